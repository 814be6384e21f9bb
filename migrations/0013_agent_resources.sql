CREATE TABLE "agent_resources" (
	"agent_id" text NOT NULL,
	"kind" text NOT NULL,
	"id" text NOT NULL,
	"run_id" text,
	"created_at" timestamp with time zone,
	"expires_at" timestamp with time zone,
	"attributes" jsonb NOT NULL,
	CONSTRAINT "agent_resources_agent_id_kind_id_pk" PRIMARY KEY("agent_id","kind","id")
);
--> statement-breakpoint
CREATE INDEX "agent_resources_kind_idx" ON "agent_resources" USING btree ("kind");