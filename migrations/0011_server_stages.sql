CREATE TABLE "server_signals" (
	"id" text PRIMARY KEY NOT NULL,
	"attempt_id" text NOT NULL,
	"run_id" text NOT NULL,
	"stage_id" text NOT NULL,
	"kind" text NOT NULL,
	"by" text NOT NULL,
	"via" text NOT NULL,
	"comment" text DEFAULT '' NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"handled_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "server_timers" (
	"id" text PRIMARY KEY NOT NULL,
	"attempt_id" text NOT NULL,
	"fire_at" timestamp with time zone NOT NULL,
	"what" text NOT NULL
);
--> statement-breakpoint
ALTER TABLE "attempts" ADD COLUMN "server_state" jsonb;--> statement-breakpoint
ALTER TABLE "server_signals" ADD CONSTRAINT "server_signals_attempt_id_attempts_id_fk" FOREIGN KEY ("attempt_id") REFERENCES "public"."attempts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "server_timers" ADD CONSTRAINT "server_timers_attempt_id_attempts_id_fk" FOREIGN KEY ("attempt_id") REFERENCES "public"."attempts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "server_signals_unhandled_idx" ON "server_signals" USING btree ("at") WHERE handled_at IS NULL;--> statement-breakpoint
CREATE INDEX "server_signals_stage_idx" ON "server_signals" USING btree ("stage_id");--> statement-breakpoint
CREATE INDEX "server_timers_fire_idx" ON "server_timers" USING btree ("fire_at");--> statement-breakpoint
CREATE INDEX "server_timers_attempt_idx" ON "server_timers" USING btree ("attempt_id");--> statement-breakpoint
CREATE INDEX "stages_server_queued_idx" ON "stages" USING btree ("queued_at") WHERE state = 'queued' AND runs_on = 'server';