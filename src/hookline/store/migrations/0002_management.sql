CREATE INDEX attempts_endpoint_time ON attempts (endpoint_id, created_at);
CREATE INDEX api_tokens_app ON api_tokens (app_id, created_at);
