ALTER TABLE notifications
            ADD COLUMN state TEXT NOT NULL DEFAULT 'handled' CHECK (state IN ('handling', 'handled')),
            ADD COLUMN claim_token TEXT,
            ADD COLUMN claimed_until BIGINT,
            ADD COLUMN handled_at BIGINT;
        UPDATE notifications SET handled_at = received_at;
        CREATE INDEX notifications_age ON notifications(handled_at);
        CREATE TABLE ipn_topics (
            scope TEXT PRIMARY KEY,
            topic_arn TEXT NOT NULL,
            pinned_at BIGINT NOT NULL
        );
        CREATE TABLE login_attempts (
            subject TEXT PRIMARY KEY,
            attempts BIGINT NOT NULL CHECK (attempts >= 0),
            since BIGINT NOT NULL
        );
        CREATE INDEX login_attempts_since ON login_attempts(since);
        INSERT INTO login_attempts (subject, attempts, since)
            SELECT 'admin:' || name, failures, since FROM admin_login_failures;
        DROP TABLE admin_login_failures;
