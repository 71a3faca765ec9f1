-- The configuration version: a counter that moves with every change to what a server may
-- keep in memory (applications, endpoints' routing and sending settings, event types, tokens,
-- the admin token), so that every process can tell at once that its copy is stale. Triggers
-- move it, whatever writes the change. An endpoint's delivery statistics do not move it.

CREATE TABLE config_version (id INTEGER PRIMARY KEY, version BIGINT NOT NULL);
INSERT INTO config_version (id, version) VALUES (1, 0);
CREATE FUNCTION hookline_config_changed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE config_version SET version = version + 1 WHERE id = 1; RETURN NULL; END $$;
CREATE TRIGGER applications_config AFTER INSERT OR UPDATE OR DELETE ON applications FOR EACH STATEMENT EXECUTE FUNCTION hookline_config_changed();
CREATE TRIGGER event_types_config AFTER INSERT OR UPDATE OR DELETE ON event_types FOR EACH STATEMENT EXECUTE FUNCTION hookline_config_changed();
CREATE TRIGGER api_tokens_config AFTER INSERT OR UPDATE OR DELETE ON api_tokens FOR EACH STATEMENT EXECUTE FUNCTION hookline_config_changed();
CREATE TRIGGER meta_config AFTER INSERT OR UPDATE OR DELETE ON meta FOR EACH STATEMENT EXECUTE FUNCTION hookline_config_changed();
CREATE TRIGGER endpoints_config AFTER INSERT OR DELETE OR UPDATE OF app_id, uid, url, description, filter_types, channels, disabled, disabled_reason, secret, previous_secret, previous_secret_expires_at, headers, metadata, options ON endpoints FOR EACH STATEMENT EXECUTE FUNCTION hookline_config_changed();
