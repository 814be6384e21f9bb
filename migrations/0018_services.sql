CREATE TABLE "service_deploys" (
	"attempt_id" text PRIMARY KEY NOT NULL,
	"service" text NOT NULL,
	"run_id" text NOT NULL,
	"holder_text" text NOT NULL,
	"requested_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "service_history" (
	"id" text PRIMARY KEY NOT NULL,
	"service" text NOT NULL,
	"revision" integer NOT NULL,
	"agent_id" text NOT NULL,
	"agent_name" text NOT NULL,
	"replicas" integer NOT NULL,
	"since" timestamp with time zone NOT NULL,
	"until" timestamp with time zone,
	"run_id" text,
	"run_ref" text DEFAULT '' NOT NULL,
	"action" text NOT NULL,
	"reason" text DEFAULT '' NOT NULL
);
--> statement-breakpoint
CREATE TABLE "service_revisions" (
	"service" text NOT NULL,
	"revision" integer NOT NULL,
	"spec" jsonb NOT NULL,
	"placement" jsonb NOT NULL,
	"digest" text NOT NULL,
	"run_id" text,
	"stage_name" text DEFAULT '' NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "service_revisions_service_revision_pk" PRIMARY KEY("service","revision")
);
--> statement-breakpoint
CREATE TABLE "services" (
	"name" text PRIMARY KEY NOT NULL,
	"proxy_port" integer NOT NULL,
	"current_revision" integer,
	"previous_revision" integer,
	"policy" jsonb NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "service_deploys" ADD CONSTRAINT "service_deploys_attempt_id_attempts_id_fk" FOREIGN KEY ("attempt_id") REFERENCES "public"."attempts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "service_history" ADD CONSTRAINT "service_history_service_services_name_fk" FOREIGN KEY ("service") REFERENCES "public"."services"("name") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "service_revisions" ADD CONSTRAINT "service_revisions_service_services_name_fk" FOREIGN KEY ("service") REFERENCES "public"."services"("name") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "service_deploys_service_idx" ON "service_deploys" USING btree ("service","requested_at");--> statement-breakpoint
CREATE INDEX "service_history_service_idx" ON "service_history" USING btree ("service","since");--> statement-breakpoint
CREATE INDEX "service_history_open_idx" ON "service_history" USING btree ("service","agent_id") WHERE until IS NULL;--> statement-breakpoint
CREATE INDEX "service_revisions_digest_idx" ON "service_revisions" USING btree ("service","digest");