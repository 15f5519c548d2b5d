ALTER TABLE notifications ADD COLUMN state TEXT NOT NULL DEFAULT 'handled'
            CHECK (state IN ('handling', 'handled'));
        ALTER TABLE notifications ADD COLUMN claim_token TEXT;
        ALTER TABLE notifications ADD COLUMN claimed_until INTEGER;
        ALTER TABLE notifications ADD COLUMN handled_at INTEGER;
        UPDATE notifications SET handled_at = received_at;
        CREATE INDEX notifications_age ON notifications(handled_at);
        CREATE TABLE ipn_topics (
            scope TEXT PRIMARY KEY,
            topic_arn TEXT NOT NULL,
            pinned_at INTEGER NOT NULL
        );
        CREATE TABLE login_attempts (
            subject TEXT PRIMARY KEY,
            attempts INTEGER NOT NULL CHECK (attempts >= 0),
            since INTEGER NOT NULL
        );
        CREATE INDEX login_attempts_since ON login_attempts(since);
        INSERT INTO login_attempts (subject, attempts, since)
            SELECT 'admin:' || name, failures, since FROM admin_login_failures;
        DROP TABLE admin_login_failures;
