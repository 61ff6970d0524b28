-- Development schema: the CRM tables that the nimara workers read and write. The Node app
-- owns the production schema; this file gives tests and local development the same tables.
-- gen_random_uuid() is built into PostgreSQL 13 and later, so no extension is created.

CREATE TABLE ports (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name             text NOT NULL,
    slug             text NOT NULL UNIQUE,
    timezone         text NOT NULL DEFAULT 'UTC',
    default_currency char(3) NOT NULL DEFAULT 'EUR',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Better Auth tables keep text ids and timestamp without time zone (UTC wall-clock times).
CREATE TABLE users (
    id                  text PRIMARY KEY,
    name                text NOT NULL,
    email               text NOT NULL UNIQUE,
    email_verified      boolean NOT NULL DEFAULT false,
    image               text,
    is_super_admin      boolean NOT NULL DEFAULT false,
    default_port_id     uuid REFERENCES ports (id) ON DELETE SET NULL,
    timezone            text,
    digest_frequency    text NOT NULL DEFAULT 'daily'
                        CHECK (digest_frequency IN ('off', 'daily', 'weekly')),
    digest_hour         smallint NOT NULL DEFAULT 8 CHECK (digest_hour BETWEEN 0 AND 23),
    last_digest_sent_at timestamptz,
    role                text,
    banned              boolean,
    ban_reason          text,
    ban_expires         timestamp,
    created_at          timestamp NOT NULL DEFAULT now(),
    updated_at          timestamp NOT NULL DEFAULT now()
);

CREATE TABLE sessions (
    id              text PRIMARY KEY,
    token           text NOT NULL UNIQUE,
    user_id         text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at      timestamp NOT NULL,
    ip_address      text,
    user_agent      text,
    impersonated_by text,
    created_at      timestamp NOT NULL DEFAULT now(),
    updated_at      timestamp NOT NULL DEFAULT now()
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

CREATE TABLE clients (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    port_id       uuid NOT NULL REFERENCES ports (id),
    full_name     text NOT NULL,
    email         text,
    phone         text,
    company       text,
    owner_user_id text REFERENCES users (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE berths (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    port_id                 uuid NOT NULL REFERENCES ports (id),
    code                    text NOT NULL,
    status                  text NOT NULL DEFAULT 'available'
                            CHECK (status IN ('available', 'under_offer', 'sold', 'leased',
                                              'reserved', 'unavailable')),
    tenure_holder_client_id uuid REFERENCES clients (id) ON DELETE SET NULL,
    tenure_expires_at       date,
    tenure_notice_stage     smallint,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    UNIQUE (port_id, code)
);
CREATE INDEX berths_tenure_expires_at_idx ON berths (tenure_expires_at)
    WHERE tenure_expires_at IS NOT NULL;

CREATE TABLE interests (
    id                         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    port_id                    uuid NOT NULL REFERENCES ports (id),
    client_id                  uuid NOT NULL REFERENCES clients (id),
    berth_id                   uuid REFERENCES berths (id) ON DELETE SET NULL,
    assigned_to                text REFERENCES users (id) ON DELETE SET NULL,
    stage                      text NOT NULL DEFAULT 'new'
                               CHECK (stage IN ('new', 'contacted', 'viewing', 'negotiating',
                                                'eoi', 'contract', 'won', 'lost')),
    lead_category              text,
    eoi_status                 text NOT NULL DEFAULT 'none'
                               CHECK (eoi_status IN ('none', 'sent', 'partially_signed',
                                                     'signed', 'declined', 'expired')),
    reminder_enabled           boolean NOT NULL DEFAULT true,
    reminder_interval_days     smallint NOT NULL DEFAULT 7,
    last_activity_at           timestamptz NOT NULL DEFAULT now(),
    last_follow_up_reminder_at timestamptz,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX interests_reminder_idx ON interests (reminder_enabled, last_activity_at)
    WHERE stage NOT IN ('won', 'lost');

CREATE TABLE files (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    port_id       uuid REFERENCES ports (id),
    bucket        text NOT NULL,
    object_key    text NOT NULL,
    original_name text NOT NULL,
    content_type  text NOT NULL,
    size_bytes    bigint NOT NULL,
    sha256        text,
    purpose       text NOT NULL
                  CHECK (purpose IN ('upload', 'document_source', 'document_signed', 'report',
                                     'db_backup')),
    entity_type   text,
    entity_id     uuid,
    status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'attached', 'deleted')),
    uploaded_by   text REFERENCES users (id) ON DELETE SET NULL,
    expires_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz,
    UNIQUE (bucket, object_key)
);
CREATE INDEX files_purpose_created_at_idx ON files (purpose, created_at);
CREATE INDEX files_status_created_at_idx ON files (status, created_at);

CREATE TABLE documents (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    port_id               uuid NOT NULL REFERENCES ports (id),
    interest_id           uuid REFERENCES interests (id) ON DELETE SET NULL,
    client_id             uuid REFERENCES clients (id) ON DELETE SET NULL,
    kind                  text NOT NULL CHECK (kind IN ('eoi', 'contract', 'other')),
    title                 text NOT NULL,
    status                text NOT NULL DEFAULT 'draft'
                          CHECK (status IN ('draft', 'sent', 'partially_signed', 'completed',
                                            'rejected', 'cancelled', 'expired')),
    documenso_envelope_id text UNIQUE,
    documenso_legacy_id   integer,
    documenso_item_id     text,
    signing_order         text NOT NULL DEFAULT 'parallel'
                          CHECK (signing_order IN ('parallel', 'sequential')),
    source_file_id        uuid REFERENCES files (id),
    signed_file_id        uuid REFERENCES files (id),
    sent_at               timestamptz,
    completed_at          timestamptz,
    last_polled_at        timestamptz,
    last_webhook_at       timestamptz,
    created_by            text REFERENCES users (id) ON DELETE SET NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX documents_pending_idx ON documents (status)
    WHERE status IN ('sent', 'partially_signed');

CREATE TABLE document_signers (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    document_id            uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    documenso_recipient_id integer,
    email                  text NOT NULL,
    name                   text NOT NULL,
    role                   text NOT NULL
                           CHECK (role IN ('signer', 'approver', 'viewer', 'cc', 'assistant')),
    signing_order          smallint,
    signing_status         text NOT NULL DEFAULT 'not_signed'
                           CHECK (signing_status IN ('not_signed', 'signed', 'rejected')),
    read_status            text NOT NULL DEFAULT 'not_opened',
    signed_at              timestamptz,
    rejection_reason       text,
    signature_hash         text UNIQUE,
    updated_at             timestamptz NOT NULL DEFAULT now(),
    UNIQUE (document_id, documenso_recipient_id)
);

CREATE TABLE invoices (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    port_id             uuid NOT NULL REFERENCES ports (id),
    client_id           uuid NOT NULL REFERENCES clients (id),
    interest_id         uuid REFERENCES interests (id) ON DELETE SET NULL,
    number              text NOT NULL,
    status              text NOT NULL DEFAULT 'draft'
                        CHECK (status IN ('draft', 'sent', 'partially_paid', 'paid', 'overdue',
                                          'void')),
    currency            char(3) NOT NULL,
    total_amount        numeric(14, 2) NOT NULL,
    amount_paid         numeric(14, 2) NOT NULL DEFAULT 0,
    issue_date          date NOT NULL,
    due_date            date NOT NULL,
    overdue_notified_at timestamptz,
    paid_at             timestamptz,
    created_by          text REFERENCES users (id) ON DELETE SET NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (port_id, number)
);
CREATE INDEX invoices_status_due_date_idx ON invoices (status, due_date);

CREATE TABLE reminders (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    port_id             uuid NOT NULL REFERENCES ports (id),
    interest_id         uuid REFERENCES interests (id) ON DELETE CASCADE,
    client_id           uuid REFERENCES clients (id) ON DELETE CASCADE,
    assignee_id         text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_by          text REFERENCES users (id) ON DELETE SET NULL,
    kind                text NOT NULL DEFAULT 'manual'
                        CHECK (kind IN ('manual', 'follow_up', 'tenure', 'invoice')),
    title               text NOT NULL,
    notes               text,
    due_at              timestamptz NOT NULL,
    snoozed_until       timestamptz,
    completed_at        timestamptz,
    overdue_notified_at timestamptz,
    dedupe_key          text UNIQUE,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reminders_open_due_at_idx ON reminders (due_at) WHERE completed_at IS NULL;

CREATE TABLE notifications (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    port_id     uuid,
    type        text NOT NULL,
    title       text NOT NULL,
    body        text,
    link        text,
    entity_type text,
    entity_id   uuid,
    data        jsonb NOT NULL DEFAULT '{}',
    read_at     timestamptz,
    digested_at timestamptz,
    dedupe_key  text UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_user_read_idx ON notifications (user_id, read_at);
CREATE INDEX notifications_user_created_idx ON notifications (user_id, created_at);

CREATE TABLE google_calendar_tokens (
    user_id                 text PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    google_email            text NOT NULL,
    access_token            text NOT NULL,
    refresh_token           text NOT NULL,
    access_token_expires_at timestamptz NOT NULL,
    scope                   text NOT NULL,
    calendar_id             text NOT NULL DEFAULT 'primary',
    sync_token              text,
    status                  text NOT NULL DEFAULT 'connected'
                            CHECK (status IN ('connected', 'disconnected')),
    disconnected_at         timestamptz,
    disconnect_reason       text,
    last_synced_at          timestamptz,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE google_calendar_cache (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id            text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    calendar_id        text NOT NULL,
    google_event_id    text NOT NULL,
    status             text NOT NULL,
    summary            text,
    location           text,
    html_link          text,
    all_day            boolean NOT NULL DEFAULT false,
    start_at           timestamptz,
    end_at             timestamptz,
    start_date         date,
    end_date           date,
    event_time_zone    text,
    recurring_event_id text,
    crm_entity_type    text,
    crm_entity_id      uuid,
    google_updated_at  timestamptz NOT NULL,
    synced_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, calendar_id, google_event_id)
);
CREATE INDEX google_calendar_cache_user_start_idx ON google_calendar_cache (user_id, start_at);

CREATE TABLE exchange_rates (
    base_currency  char(3) NOT NULL,
    quote_currency char(3) NOT NULL,
    rate           numeric(20, 10) NOT NULL,
    rate_date      date NOT NULL,
    source         text NOT NULL CHECK (source IN ('frankfurter-v1', 'frankfurter-v2')),
    fetched_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (base_currency, quote_currency, rate_date, source)
);

CREATE TABLE scheduled_reports (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    port_id         uuid NOT NULL REFERENCES ports (id),
    created_by      text NOT NULL REFERENCES users (id),
    name            text NOT NULL,
    report_type     text NOT NULL,
    params          jsonb NOT NULL DEFAULT '{}',
    format          text NOT NULL CHECK (format IN ('pdf', 'csv', 'xlsx')),
    cron_expression text NOT NULL,
    timezone        text NOT NULL DEFAULT 'UTC',
    recipients      text[] NOT NULL DEFAULT '{}',
    enabled         boolean NOT NULL DEFAULT true,
    next_run_at     timestamptz NOT NULL,
    last_run_at     timestamptz,
    last_status     text,
    last_error      text,
    locked_until    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX scheduled_reports_next_run_idx ON scheduled_reports (next_run_at) WHERE enabled;

CREATE TABLE form_submissions (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    port_id      uuid NOT NULL REFERENCES ports (id),
    form_type    text NOT NULL,
    client_id    uuid REFERENCES clients (id) ON DELETE SET NULL,
    interest_id  uuid REFERENCES interests (id) ON DELETE SET NULL,
    token_hash   text NOT NULL UNIQUE,
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'submitted', 'expired', 'cancelled')),
    expires_at   timestamptz NOT NULL,
    submitted_at timestamptz,
    payload      jsonb,
    created_by   text REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX form_submissions_status_expires_idx ON form_submissions (status, expires_at);

CREATE TABLE system_settings (
    key        text PRIMARY KEY,
    value      jsonb NOT NULL,
    updated_by text REFERENCES users (id) ON DELETE SET NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhooks (
    id                         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    port_id                    uuid NOT NULL REFERENCES ports (id),
    url                        text NOT NULL,
    description                text,
    secret                     text NOT NULL,
    previous_secret            text,
    previous_secret_expires_at timestamptz,
    event_types                text[] NOT NULL DEFAULT '{}',
    enabled                    boolean NOT NULL DEFAULT true,
    disabled_reason            text,
    consecutive_failures       integer NOT NULL DEFAULT 0,
    created_by                 text REFERENCES users (id) ON DELETE SET NULL,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    webhook_id       uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id         uuid NOT NULL,
    event_type       text NOT NULL,
    message_id       text NOT NULL,
    payload          jsonb NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'succeeded', 'failed', 'abandoned')),
    attempt_count    integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz,
    last_attempt_at  timestamptz,
    response_status  integer,
    response_excerpt text,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_status_next_idx ON webhook_deliveries (status, next_attempt_at);

CREATE TABLE audit_log (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    port_id       uuid,
    actor_type    text NOT NULL CHECK (actor_type IN ('user', 'system', 'job')),
    actor_user_id text,
    action        text NOT NULL,
    entity_type   text NOT NULL,
    entity_id     text NOT NULL,
    metadata      jsonb NOT NULL DEFAULT '{}',
    ip_address    inet,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_entity_idx ON audit_log (entity_type, entity_id);
CREATE INDEX audit_log_created_at_idx ON audit_log (created_at);
