CREATE TABLE secrets (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE members (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL UNIQUE COLLATE NOCASE,
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
            created_at INTEGER NOT NULL
        );
        CREATE TABLE amazon_links (
            member_id INTEGER PRIMARY KEY REFERENCES members(id) ON DELETE CASCADE,
            buyer_id TEXT NOT NULL UNIQUE,
            linked_at INTEGER NOT NULL
        );
        CREATE TABLE products (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            price INTEGER NOT NULL CHECK (price > 0),
            recurring INTEGER NOT NULL DEFAULT 0 CHECK (recurring IN (0, 1))
        );
        CREATE TABLE shipping_methods (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            fee INTEGER NOT NULL CHECK (fee >= 0),
            amazon_pay_allowed INTEGER NOT NULL CHECK (amazon_pay_allowed IN (0, 1))
        );
        CREATE TABLE payment_methods (
            code TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            enabled INTEGER NOT NULL CHECK (enabled IN (0, 1))
        );
        -- The manual: with the option, Amazon Pay appears among the payment methods
        -- (基本設定＞支払方法).
        INSERT INTO payment_methods (code, name, enabled) VALUES ('amazon_pay', 'Amazon Pay', 1);
        CREATE TABLE carts (
            id TEXT PRIMARY KEY,
            shipping_method_id INTEGER NOT NULL REFERENCES shipping_methods(id),
            review_ref TEXT,
            checkout_session_id TEXT,
            updated_at INTEGER NOT NULL
        );
        CREATE INDEX carts_updated_at ON carts(updated_at);
        CREATE TABLE cart_items (
            cart_id TEXT NOT NULL REFERENCES carts(id) ON DELETE CASCADE,
            product_id INTEGER NOT NULL REFERENCES products(id),
            quantity INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 99),
            PRIMARY KEY (cart_id, product_id)
        );
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            member_id INTEGER REFERENCES members(id) ON DELETE SET NULL,
            cart_id TEXT,
            pending_buyer TEXT,
            pending_until INTEGER,
            return_to TEXT,
            last_seen INTEGER NOT NULL,
            created_at INTEGER NOT NULL
        );
        CREATE INDEX sessions_last_seen ON sessions(last_seen);
        CREATE INDEX sessions_cart ON sessions(cart_id);
        CREATE TABLE subscriptions (
            id INTEGER PRIMARY KEY,
            member_id INTEGER REFERENCES members(id),
            charge_permission_id TEXT NOT NULL UNIQUE,
            amount INTEGER NOT NULL CHECK (amount > 0),
            next_cycle TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('active', 'canceled')),
            created_at INTEGER NOT NULL
        );
        CREATE TABLE orders (
            id INTEGER PRIMARY KEY,
            order_number TEXT UNIQUE,
            member_id INTEGER REFERENCES members(id),
            checkout_session_id TEXT UNIQUE,
            cart_id TEXT,
            subscription_id INTEGER REFERENCES subscriptions(id),
            cycle TEXT,
            total INTEGER NOT NULL CHECK (total >= 0),
            shipping_fee INTEGER NOT NULL CHECK (shipping_fee >= 0),
            discount INTEGER NOT NULL DEFAULT 0 CHECK (discount >= 0),
            recurring INTEGER NOT NULL CHECK (recurring IN (0, 1)),
            state TEXT NOT NULL CHECK (state IN ('processing', 'completing', 'unknown', 'pending', 'authorized', 'capturing', 'captured', 'canceled', 'refunded', 'expired', 'card_unsettled', 'failed')),
            charge_permission_id TEXT,
            charge_id TEXT,
            authorized_amount INTEGER CHECK (authorized_amount > 0),
            authorized_at INTEGER,
            captured_amount INTEGER NOT NULL DEFAULT 0 CHECK (captured_amount >= 0),
            refunded_amount INTEGER NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0),
            note TEXT NOT NULL DEFAULT '',
            buyer_name TEXT NOT NULL DEFAULT '',
            fulfilment TEXT NOT NULL DEFAULT 'new' CHECK (fulfilment IN ('new', 'shipped', 'canceled')),
            version INTEGER NOT NULL DEFAULT 0,
            locked_by TEXT,
            locked_until INTEGER,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            UNIQUE (subscription_id, cycle)
        );
        CREATE INDEX orders_state ON orders(state, updated_at);
        CREATE INDEX orders_listed ON orders(state, id);
        CREATE INDEX orders_charge ON orders(charge_id);
        CREATE INDEX orders_permission ON orders(charge_permission_id);
        CREATE INDEX orders_member ON orders(member_id, id);
        CREATE INDEX orders_authorized ON orders(state, authorized_at);
        CREATE TABLE order_items (
            order_id INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            name TEXT NOT NULL,
            price INTEGER NOT NULL CHECK (price >= 0),
            quantity INTEGER NOT NULL CHECK (quantity > 0),
            PRIMARY KEY (order_id, position)
        );
        CREATE TABLE order_events (
            id INTEGER PRIMARY KEY,
            order_id INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
            at INTEGER NOT NULL,
            actor TEXT NOT NULL,
            from_state TEXT,
            to_state TEXT NOT NULL CHECK (to_state IN ('processing', 'completing', 'unknown', 'pending', 'authorized', 'capturing', 'captured', 'canceled', 'refunded', 'expired', 'card_unsettled', 'failed')),
            detail TEXT NOT NULL
        );
        CREATE INDEX order_events_order ON order_events(order_id, id);
        CREATE TABLE refunds (
            refund_id TEXT PRIMARY KEY,
            order_id INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
            amount INTEGER NOT NULL CHECK (amount > 0),
            state TEXT NOT NULL CHECK (state IN ('initiated', 'refunded', 'declined')),
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        );
        CREATE INDEX refunds_order ON refunds(order_id, created_at);
        CREATE TABLE notifications (
            notification_id TEXT PRIMARY KEY,
            object_type TEXT NOT NULL,
            object_id TEXT NOT NULL,
            received_at INTEGER NOT NULL
        );
        CREATE TABLE admin_accounts (
            name TEXT PRIMARY KEY,
            password_hash TEXT NOT NULL,
            created_at INTEGER NOT NULL
        );
        CREATE TABLE admin_sessions (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL REFERENCES admin_accounts(name) ON DELETE CASCADE,
            last_seen INTEGER NOT NULL,
            created_at INTEGER NOT NULL
        );
        CREATE TABLE admin_login_failures (
            name TEXT PRIMARY KEY,
            failures INTEGER NOT NULL,
            since INTEGER NOT NULL
        );
        CREATE TABLE bulk_jobs (
            id INTEGER PRIMARY KEY,
            owner TEXT NOT NULL,
            created_at INTEGER NOT NULL
        );
        CREATE TABLE bulk_items (
            bulk_id INTEGER NOT NULL REFERENCES bulk_jobs(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            order_id INTEGER NOT NULL,
            order_number TEXT NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('waiting', 'done', 'refused')),
            message TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (bulk_id, order_id)
        );
