CREATE TABLE "git_deliveries" (
	"repo" text NOT NULL,
	"delivery_id" text NOT NULL,
	"seen_at" timestamp with time zone NOT NULL,
	"run_id" text,
	CONSTRAINT "git_deliveries_repo_delivery_id_pk" PRIMARY KEY("repo","delivery_id")
);
--> statement-breakpoint
CREATE TABLE "git_repos" (
	"name" text PRIMARY KEY NOT NULL,
	"url" text NOT NULL,
	"pipeline_path" text NOT NULL,
	"branch_glob" text DEFAULT '' NOT NULL,
	"secret_ref" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "branch" text DEFAULT '' NOT NULL;--> statement-breakpoint
CREATE INDEX "git_deliveries_seen_idx" ON "git_deliveries" USING btree ("seen_at");--> statement-breakpoint
CREATE INDEX "runs_branch_idx" ON "runs" USING btree ("branch","created_at");