ALTER TABLE "api_tokens" ADD COLUMN "last_used_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "join_tokens" ADD COLUMN "last_used_at" timestamp with time zone;