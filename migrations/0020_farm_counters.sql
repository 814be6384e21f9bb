CREATE TABLE "farm_counters" (
	"name" text NOT NULL,
	"labels" text NOT NULL,
	"value" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "farm_counters_name_labels_pk" PRIMARY KEY("name","labels")
);
