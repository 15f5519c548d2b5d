ALTER TABLE bulk_items DROP CONSTRAINT bulk_items_outcome_check,
            ADD CONSTRAINT bulk_items_outcome_check CHECK (outcome IN ('waiting', 'done', 'skipped', 'refused'))
