CREATE TABLE "alerts" (
	"fingerprint" text NOT NULL,
	"starts_at" timestamp with time zone NOT NULL,
	"ends_at" timestamp with time zone,
	"status" text NOT NULL,
	"alertname" text NOT NULL,
	"labels" jsonb NOT NULL,
	"annotations" jsonb NOT NULL,
	"received_at" timestamp with time zone NOT NULL,
	"resolved_at" timestamp with time zone,
	"actions" jsonb NOT NULL,
	CONSTRAINT "alerts_fingerprint_starts_at_pk" PRIMARY KEY("fingerprint","starts_at")
);
--> statement-breakpoint
CREATE INDEX "alerts_received_idx" ON "alerts" USING btree ("received_at");