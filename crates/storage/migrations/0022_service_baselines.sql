-- Service baselines (checklist 2-⑫ servers, 2-⑬ PCs): per asset class, the ports that may
-- listen for the network and the services that may run, as the text lines the administrator
-- wrote (parsed by the domain, comments kept). Saving it again, changed or not, is the record
-- that someone confirmed it on that day.
CREATE TABLE service_baselines (
    asset_class TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
