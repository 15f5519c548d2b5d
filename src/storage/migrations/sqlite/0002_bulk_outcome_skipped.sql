CREATE TABLE bulk_items_2 (
            bulk_id INTEGER NOT NULL REFERENCES bulk_jobs(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            order_id INTEGER NOT NULL,
            order_number TEXT NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('waiting', 'done', 'skipped', 'refused')),
            message TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (bulk_id, order_id)
        );
        INSERT INTO bulk_items_2 SELECT bulk_id, position, order_id, order_number, outcome, message FROM bulk_items;
        DROP TABLE bulk_items;
        ALTER TABLE bulk_items_2 RENAME TO bulk_items;
