-- The webapp's items, loaded into its SQLite database when it starts (DATABASE=/data/items.sql).
CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, qty INTEGER NOT NULL CHECK (qty >= 0));
INSERT INTO items (id, name, qty) VALUES
  (1, 'anchor', 3),
  (2, 'rope', 12),
  (3, 'winch', 1);
