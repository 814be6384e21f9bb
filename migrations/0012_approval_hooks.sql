CREATE TABLE "approval_hooks" (
	"name" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"secret_ref" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "hook_seen_ids" (
	"hook" text NOT NULL,
	"message_id" text NOT NULL,
	"seen_at" timestamp with time zone NOT NULL,
	CONSTRAINT "hook_seen_ids_hook_message_id_pk" PRIMARY KEY("hook","message_id")
);
--> statement-breakpoint
ALTER TABLE "approval_hooks" ADD CONSTRAINT "approval_hooks_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "hook_seen_ids_seen_idx" ON "hook_seen_ids" USING btree ("seen_at");