ALTER TABLE orders ADD COLUMN buyer_email TEXT NOT NULL DEFAULT '';
        ALTER TABLE orders ADD COLUMN plan TEXT;
        ALTER TABLE subscriptions ADD COLUMN plan TEXT;
        ALTER TABLE bulk_jobs ADD COLUMN claimed_by TEXT;
        ALTER TABLE bulk_jobs ADD COLUMN heartbeat_at INTEGER;
        ALTER TABLE bulk_jobs ADD COLUMN finished_at INTEGER;
        UPDATE bulk_jobs SET finished_at = created_at WHERE NOT EXISTS
            (SELECT 1 FROM bulk_items i WHERE i.bulk_id = bulk_jobs.id AND i.outcome = 'waiting');
