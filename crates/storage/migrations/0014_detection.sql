-- Live detection. `detect_state` holds named counters of the detector; `next_index` is the
-- first sealed event record it has not scanned yet, moved in the same transaction as the
-- alerts raised from the records before it, so a restart neither skips nor repeats events.
CREATE TABLE detect_state (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);

-- Patients whose records call for care when opened (著名人, 職員本人, 職員の家族): access to
-- them raises an alert. `reason` is `vip`, `staff` or `family`.
CREATE TABLE watched_patients (
    patient_id TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    note TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    added_by TEXT NOT NULL
);
