-- build_affinity (image name -> agent) becomes the kinds' generic affinity table (TYPE:KEY -> agent); its rows are kept.
ALTER TABLE "build_affinity" RENAME TO "affinity";--> statement-breakpoint
ALTER TABLE "affinity" RENAME CONSTRAINT "build_affinity_pkey" TO "affinity_pkey";--> statement-breakpoint
ALTER TABLE "affinity" RENAME COLUMN "image" TO "key";--> statement-breakpoint
ALTER TABLE "affinity" RENAME COLUMN "built_at" TO "at";--> statement-breakpoint
UPDATE "affinity" SET "key" = 'build:' || "key";
