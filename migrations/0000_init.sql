CREATE TABLE "agents" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"hostname" text DEFAULT '' NOT NULL,
	"labels" jsonb NOT NULL,
	"capacity" integer NOT NULL,
	"state" text NOT NULL,
	"session_hash" text NOT NULL,
	"join_token_id" text NOT NULL,
	"version" text DEFAULT '' NOT NULL,
	"executors" jsonb NOT NULL,
	"registered_at" timestamp with time zone NOT NULL,
	"last_heartbeat_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "api_tokens" (
	"id" text PRIMARY KEY NOT NULL,
	"token_hash" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "api_tokens_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
CREATE TABLE "attempts" (
	"id" text PRIMARY KEY NOT NULL,
	"stage_id" text NOT NULL,
	"run_id" text NOT NULL,
	"number" integer NOT NULL,
	"agent_id" text NOT NULL,
	"lease_id" text NOT NULL,
	"state" text NOT NULL,
	"lease_expires_at" timestamp with time zone NOT NULL,
	"deadline_at" timestamp with time zone,
	"assigned_at" timestamp with time zone NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"exit_code" integer,
	"reason" text,
	"log_seq" bigint DEFAULT 0 NOT NULL,
	"cancel_requested" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE TABLE "join_tokens" (
	"id" text PRIMARY KEY NOT NULL,
	"token_hash" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "join_tokens_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
CREATE TABLE "run_events" (
	"run_id" text NOT NULL,
	"seq" bigint NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"kind" text NOT NULL,
	"stage_id" text,
	"attempt_id" text,
	"chunk_seq" bigint,
	"stream" integer,
	"data" "bytea",
	"payload" jsonb,
	CONSTRAINT "run_events_run_id_seq_pk" PRIMARY KEY("run_id","seq")
);
--> statement-breakpoint
CREATE TABLE "runs" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"source" text DEFAULT '' NOT NULL,
	"state" text NOT NULL,
	"pipeline_yaml" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone,
	"last_event_seq" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "stage_edges" (
	"run_id" text NOT NULL,
	"stage_id" text NOT NULL,
	"needs_stage_id" text NOT NULL,
	CONSTRAINT "stage_edges_stage_id_needs_stage_id_pk" PRIMARY KEY("stage_id","needs_stage_id")
);
--> statement-breakpoint
CREATE TABLE "stages" (
	"id" text PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"name" text NOT NULL,
	"position" integer NOT NULL,
	"state" text NOT NULL,
	"spec" jsonb NOT NULL,
	"timeout_ms" integer,
	"retry_count" integer NOT NULL,
	"retry_on" jsonb NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"avoid_agents" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"agent_id" text,
	"exit_code" integer,
	"reason" text,
	"queued_at" timestamp with time zone,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "attempts" ADD CONSTRAINT "attempts_stage_id_stages_id_fk" FOREIGN KEY ("stage_id") REFERENCES "public"."stages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "run_events" ADD CONSTRAINT "run_events_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "stage_edges" ADD CONSTRAINT "stage_edges_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "stages" ADD CONSTRAINT "stages_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "agents_state_idx" ON "agents" USING btree ("state");--> statement-breakpoint
CREATE INDEX "attempts_agent_active_idx" ON "attempts" USING btree ("agent_id") WHERE state in ('assigned','running');--> statement-breakpoint
CREATE INDEX "attempts_active_lease_idx" ON "attempts" USING btree ("lease_expires_at") WHERE state in ('assigned','running');--> statement-breakpoint
CREATE UNIQUE INDEX "attempts_stage_number_uq" ON "attempts" USING btree ("stage_id","number");--> statement-breakpoint
CREATE UNIQUE INDEX "run_events_chunk_uq" ON "run_events" USING btree ("attempt_id","chunk_seq") WHERE kind = 'log';--> statement-breakpoint
CREATE INDEX "runs_created_idx" ON "runs" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "stage_edges_needs_idx" ON "stage_edges" USING btree ("needs_stage_id");--> statement-breakpoint
CREATE INDEX "stages_run_idx" ON "stages" USING btree ("run_id");--> statement-breakpoint
CREATE INDEX "stages_queued_idx" ON "stages" USING btree ("queued_at") WHERE state = 'queued';--> statement-breakpoint
CREATE UNIQUE INDEX "stages_run_name_uq" ON "stages" USING btree ("run_id","name");