-- Stock, order lines and sales no longer reference products. At the storage port every key stands on
-- its own (a commit may write an order or a sale whatever else the database holds), and the library's
-- unit of work, not the schema, keeps them to products that exist. A foreign key would turn such a
-- commit into a server error instead of the commit or conflict the port promises.

ALTER TABLE {schema}.stock DROP CONSTRAINT IF EXISTS stock_product_id_fkey;
ALTER TABLE {schema}.order_lines DROP CONSTRAINT IF EXISTS order_lines_product_id_fkey;
ALTER TABLE {schema}.sales DROP CONSTRAINT IF EXISTS sales_product_id_fkey;
