ALTER TABLE order_events ADD COLUMN forced INTEGER NOT NULL DEFAULT 0;
-- Lines forced before said so by the prefix 「エラーを無視して変更: 」 (12 characters) of their detail.
UPDATE order_events SET forced = TRUE, detail = substr(detail, 13)
    WHERE detail LIKE 'エラーを無視して変更: %';
