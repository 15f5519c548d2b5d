-- Many shops on one deployment: the shops, the hosts each answers on, their secrets (sealed by
-- the vault), and every shop's data marked with its shop. Shop 1 is the shop the deployment
-- served until now (from the AMAZONPAY2_* settings): every existing row is its.
--
-- Tables whose unique keys now include the shop are rebuilt (SQLite cannot change a table's
-- constraints in place), with foreign keys off for the migration, as SQLite's documented
-- procedure for schema changes has it (the migrator checks them before it commits).
CREATE TABLE shops (
    id INTEGER PRIMARY KEY,
    state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'disabled')),
    store_name TEXT NOT NULL DEFAULT '',
    sandbox INTEGER NOT NULL DEFAULT 1 CHECK (sandbox IN (0, 1)),
    merchant_id TEXT,
    store_id TEXT,
    public_key_id TEXT,
    key_fingerprint TEXT,
    keys_changed_at INTEGER,
    created_at INTEGER NOT NULL
);
INSERT INTO shops (id, created_at) VALUES (1, CAST(strftime('%s', 'now') AS INTEGER));
CREATE TABLE shop_hosts (
    host TEXT PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id)
);
CREATE INDEX shop_hosts_shop ON shop_hosts(shop_id);
CREATE TABLE shop_secrets (
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    field TEXT NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (shop_id, field)
);
-- Raised by every change of a shop, its hosts or its secrets: instances poll it.
CREATE TABLE shops_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO shops_version (id, version) VALUES (1, 1);

ALTER TABLE products ADD COLUMN shop_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE shipping_methods ADD COLUMN shop_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE carts ADD COLUMN shop_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE cart_items ADD COLUMN shop_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE sessions ADD COLUMN shop_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE subscriptions ADD COLUMN shop_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE orders ADD COLUMN shop_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE order_items ADD COLUMN shop_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE order_events ADD COLUMN shop_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE refunds ADD COLUMN shop_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE bulk_jobs ADD COLUMN shop_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE bulk_items ADD COLUMN shop_id INTEGER NOT NULL DEFAULT 1;

DROP INDEX orders_state;
DROP INDEX orders_listed;
DROP INDEX orders_authorized;
CREATE INDEX orders_state ON orders(shop_id, state, updated_at);
CREATE INDEX orders_listed ON orders(shop_id, state, id);
CREATE INDEX orders_authorized ON orders(shop_id, state, authorized_at);
CREATE INDEX orders_shop ON orders(shop_id, id);

CREATE TABLE members_8 (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL DEFAULT 1,
    email TEXT NOT NULL COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    family_name TEXT NOT NULL,
    given_name TEXT NOT NULL,
    family_kana TEXT NOT NULL,
    given_kana TEXT NOT NULL,
    postal_code TEXT NOT NULL,
    prefecture TEXT NOT NULL,
    address1 TEXT NOT NULL,
    address2 TEXT NOT NULL,
    phone TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (shop_id, email)
);
INSERT INTO members_8 (id, email, password_hash, family_name, given_name, family_kana, given_kana, postal_code,
        prefecture, address1, address2, phone, created_at)
    SELECT id, email, password_hash, family_name, given_name, family_kana, given_kana, postal_code,
        prefecture, address1, address2, phone, created_at FROM members;
DROP TABLE members;
ALTER TABLE members_8 RENAME TO members;

CREATE TABLE amazon_links_8 (
    member_id INTEGER PRIMARY KEY REFERENCES members(id) ON DELETE CASCADE,
    shop_id INTEGER NOT NULL DEFAULT 1,
    buyer_id TEXT NOT NULL,
    linked_at INTEGER NOT NULL,
    UNIQUE (shop_id, buyer_id)
);
INSERT INTO amazon_links_8 (member_id, buyer_id, linked_at) SELECT member_id, buyer_id, linked_at FROM amazon_links;
DROP TABLE amazon_links;
ALTER TABLE amazon_links_8 RENAME TO amazon_links;

CREATE TABLE payment_methods_8 (
    shop_id INTEGER NOT NULL DEFAULT 1,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    PRIMARY KEY (shop_id, code)
);
INSERT INTO payment_methods_8 (code, name, enabled) SELECT code, name, enabled FROM payment_methods;
DROP TABLE payment_methods;
ALTER TABLE payment_methods_8 RENAME TO payment_methods;

CREATE TABLE notifications_8 (
    shop_id INTEGER NOT NULL DEFAULT 1,
    notification_id TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'handled' CHECK (state IN ('handling', 'handled')),
    claim_token TEXT,
    claimed_until INTEGER,
    handled_at INTEGER,
    PRIMARY KEY (shop_id, notification_id)
);
INSERT INTO notifications_8 (notification_id, object_type, object_id, received_at, state, claim_token,
        claimed_until, handled_at)
    SELECT notification_id, object_type, object_id, received_at, state, claim_token, claimed_until, handled_at
    FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_8 RENAME TO notifications;
CREATE INDEX notifications_age ON notifications(handled_at);

CREATE TABLE admin_accounts_8 (
    shop_id INTEGER NOT NULL DEFAULT 1,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (shop_id, name)
);
INSERT INTO admin_accounts_8 (name, password_hash, created_at) SELECT name, password_hash, created_at FROM admin_accounts;
CREATE TABLE admin_sessions_8 (
    id TEXT PRIMARY KEY,
    shop_id INTEGER NOT NULL DEFAULT 1,
    name TEXT NOT NULL,
    last_seen INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    FOREIGN KEY (shop_id, name) REFERENCES admin_accounts(shop_id, name) ON DELETE CASCADE
);
INSERT INTO admin_sessions_8 (id, name, last_seen, created_at) SELECT id, name, last_seen, created_at FROM admin_sessions;
DROP TABLE admin_sessions;
DROP TABLE admin_accounts;
ALTER TABLE admin_accounts_8 RENAME TO admin_accounts;
ALTER TABLE admin_sessions_8 RENAME TO admin_sessions;

CREATE TABLE login_attempts_8 (
    shop_id INTEGER NOT NULL DEFAULT 1,
    subject TEXT NOT NULL,
    attempts INTEGER NOT NULL CHECK (attempts >= 0),
    since INTEGER NOT NULL,
    PRIMARY KEY (shop_id, subject)
);
INSERT INTO login_attempts_8 (subject, attempts, since) SELECT subject, attempts, since FROM login_attempts;
DROP TABLE login_attempts;
ALTER TABLE login_attempts_8 RENAME TO login_attempts;
CREATE INDEX login_attempts_since ON login_attempts(since);

CREATE TABLE ipn_topics_8 (
    shop_id INTEGER NOT NULL DEFAULT 1,
    scope TEXT NOT NULL,
    topic_arn TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    last_confirmed INTEGER,
    PRIMARY KEY (shop_id, scope, topic_arn)
);
INSERT INTO ipn_topics_8 (scope, topic_arn, first_seen, last_seen, last_confirmed)
    SELECT scope, topic_arn, first_seen, last_seen, last_confirmed FROM ipn_topics;
DROP TABLE ipn_topics;
ALTER TABLE ipn_topics_8 RENAME TO ipn_topics;
CREATE INDEX ipn_topics_seen ON ipn_topics(shop_id, scope, last_seen);
