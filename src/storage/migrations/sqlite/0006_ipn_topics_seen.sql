CREATE TABLE ipn_topics_5 (
            scope TEXT NOT NULL,
            topic_arn TEXT NOT NULL,
            first_seen INTEGER NOT NULL,
            last_seen INTEGER NOT NULL,
            last_confirmed INTEGER,
            PRIMARY KEY (scope, topic_arn)
        );
        INSERT INTO ipn_topics_5 (scope, topic_arn, first_seen, last_seen, last_confirmed)
            SELECT scope, topic_arn, pinned_at, pinned_at, pinned_at FROM ipn_topics;
        DROP TABLE ipn_topics;
        ALTER TABLE ipn_topics_5 RENAME TO ipn_topics;
        CREATE INDEX ipn_topics_seen ON ipn_topics(scope, last_seen);
