-- The configuration version: a counter that moves with every change to what a server may
-- keep in memory (applications, endpoints' routing and sending settings, event types, tokens,
-- the admin token), so that every process can tell at once that its copy is stale. Triggers
-- move it, whatever writes the change. An endpoint's delivery statistics do not move it.

CREATE TABLE config_version (id INTEGER PRIMARY KEY, version INTEGER NOT NULL);
INSERT INTO config_version (id, version) VALUES (1, 0);
CREATE TRIGGER applications_insert_config AFTER INSERT ON applications BEGIN UPDATE config_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER applications_update_config AFTER UPDATE ON applications BEGIN UPDATE config_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER applications_delete_config AFTER DELETE ON applications BEGIN UPDATE config_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER event_types_insert_config AFTER INSERT ON event_types BEGIN UPDATE config_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER event_types_update_config AFTER UPDATE ON event_types BEGIN UPDATE config_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER event_types_delete_config AFTER DELETE ON event_types BEGIN UPDATE config_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER api_tokens_insert_config AFTER INSERT ON api_tokens BEGIN UPDATE config_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER api_tokens_update_config AFTER UPDATE ON api_tokens BEGIN UPDATE config_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER api_tokens_delete_config AFTER DELETE ON api_tokens BEGIN UPDATE config_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER meta_insert_config AFTER INSERT ON meta BEGIN UPDATE config_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER meta_update_config AFTER UPDATE ON meta BEGIN UPDATE config_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER meta_delete_config AFTER DELETE ON meta BEGIN UPDATE config_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER endpoints_insert_config AFTER INSERT ON endpoints BEGIN UPDATE config_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER endpoints_delete_config AFTER DELETE ON endpoints BEGIN UPDATE config_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER endpoints_update_config AFTER UPDATE OF app_id, uid, url, description, filter_types, channels, disabled, disabled_reason, secret, previous_secret, previous_secret_expires_at, headers, metadata, options ON endpoints BEGIN UPDATE config_version SET version = version + 1 WHERE id = 1; END;
