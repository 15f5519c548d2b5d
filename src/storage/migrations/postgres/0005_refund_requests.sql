ALTER TABLE orders ADD COLUMN refund_requests BIGINT NOT NULL DEFAULT 0 CHECK (refund_requests >= 0);
        UPDATE orders SET refund_requests = (SELECT count(*) FROM refunds r WHERE r.order_id = orders.id);
