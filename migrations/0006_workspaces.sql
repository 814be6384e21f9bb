ALTER TABLE "agents" ADD COLUMN "workspaces_live" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "workspaces_leaked" integer DEFAULT 0 NOT NULL;