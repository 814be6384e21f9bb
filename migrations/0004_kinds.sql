CREATE TABLE "build_affinity" (
	"image" text PRIMARY KEY NOT NULL,
	"agent_id" text NOT NULL,
	"built_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "environments" (
	"id" text PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"stage_name" text NOT NULL,
	"agent_id" text NOT NULL,
	"owner" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"services" jsonb NOT NULL,
	"removed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "pipeline_counters" (
	"name" text PRIMARY KEY NOT NULL,
	"last" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "run_sources" (
	"run_id" text PRIMARY KEY NOT NULL,
	"tar" "bytea" NOT NULL,
	"size_bytes" integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "capabilities" jsonb;--> statement-breakpoint
UPDATE "agents" SET "capabilities" = "executors";--> statement-breakpoint
ALTER TABLE "agents" ALTER COLUMN "capabilities" SET NOT NULL;--> statement-breakpoint
UPDATE "stages" SET "spec" = jsonb_build_object(
  'type', 'command',
  'kind', jsonb_build_object('type', 'command', 'image', spec->'image', 'commands', spec->'commands', 'executor', spec->'executor',
    'resources', coalesce(spec->'resources', '{"memoryBytes":null,"nanoCpus":null,"pids":null}'::jsonb)),
  'env', spec->'env', 'secrets', coalesce(spec->'secrets', '[]'::jsonb), 'agent', spec->'agent',
  'requires', jsonb_build_array(spec->>'executor'), 'refs', '[]'::jsonb, 'source', '{"kind":"upload"}'::jsonb, 'registry', 'null'::jsonb)
WHERE NOT spec ? 'kind';--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "number" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "commit" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "stages" ADD COLUMN "type" text DEFAULT 'command' NOT NULL;--> statement-breakpoint
ALTER TABLE "stages" ADD COLUMN "runs_on" text DEFAULT 'agent' NOT NULL;--> statement-breakpoint
ALTER TABLE "stages" ADD COLUMN "outputs" jsonb;--> statement-breakpoint
ALTER TABLE "environments" ADD CONSTRAINT "environments_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "run_sources" ADD CONSTRAINT "run_sources_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "environments_live_idx" ON "environments" USING btree ("agent_id") WHERE removed_at IS NULL;--> statement-breakpoint
ALTER TABLE "agents" DROP COLUMN "executors";