CREATE TABLE "server_children" (
	"parent_attempt_id" text NOT NULL,
	"key" text NOT NULL,
	"stage_id" text NOT NULL,
	"run_id" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"ended_at" timestamp with time zone,
	"delivered_at" timestamp with time zone,
	CONSTRAINT "server_children_parent_attempt_id_key_pk" PRIMARY KEY("parent_attempt_id","key")
);
--> statement-breakpoint
ALTER TABLE "stages" ADD COLUMN "parent_stage_id" text;--> statement-breakpoint
ALTER TABLE "server_children" ADD CONSTRAINT "server_children_parent_attempt_id_attempts_id_fk" FOREIGN KEY ("parent_attempt_id") REFERENCES "public"."attempts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "server_children" ADD CONSTRAINT "server_children_stage_id_stages_id_fk" FOREIGN KEY ("stage_id") REFERENCES "public"."stages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "server_children_stage_uq" ON "server_children" USING btree ("stage_id");--> statement-breakpoint
CREATE INDEX "server_children_undelivered_idx" ON "server_children" USING btree ("ended_at") WHERE ended_at IS NOT NULL AND delivered_at IS NULL;--> statement-breakpoint
CREATE INDEX "stages_children_queued_idx" ON "stages" USING btree ("queued_at") WHERE state = 'queued' AND parent_stage_id IS NOT NULL;