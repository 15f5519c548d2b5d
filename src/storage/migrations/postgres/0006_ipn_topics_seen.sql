ALTER TABLE ipn_topics RENAME COLUMN pinned_at TO first_seen;
        ALTER TABLE ipn_topics ADD COLUMN last_seen BIGINT, ADD COLUMN last_confirmed BIGINT;
        UPDATE ipn_topics SET last_seen = first_seen, last_confirmed = first_seen;
        ALTER TABLE ipn_topics ALTER COLUMN last_seen SET NOT NULL;
        ALTER TABLE ipn_topics DROP CONSTRAINT ipn_topics_pkey;
        ALTER TABLE ipn_topics ADD PRIMARY KEY (scope, topic_arn);
        CREATE INDEX ipn_topics_seen ON ipn_topics(scope, last_seen);
