// What a job reported besides its log: its annotations and its step summary (Markdown), written once
// when the job ends and read when a run is shown. Sizes are bounded by the caller (the runner protocol).
import { type Db, fromJson, storableText, toJson } from "./util.js";

export const annotationLevels = ["error", "warning", "notice"] as const;
export type AnnotationLevel = (typeof annotationLevels)[number];

/** As `::error file=a.js,line=3,col=1,endLine=3,endColumn=9,title=T::message` says it. */
export type StoredAnnotation = {
  level: AnnotationLevel;
  message: string;
  file?: string;
  line?: number;
  endLine?: number;
  col?: number;
  endColumn?: number;
  title?: string;
  /**
   * The step that made it: 1-based, as the job's steps are numbered (`steps[stepNumber - 1]`), with
   * its name. Absent for an annotation made outside any step, and in rows stored before steps were kept.
   */
  stepNumber?: number;
  stepName?: string;
};

export type JobReport = {
  annotations: StoredAnnotation[];
  summary: string;
  /**
   * `environment.url` as the job's runner evaluated it when the job ended ("" for none); absent when
   * the runner reported nothing (an older runner, a job that never ran, a report stored before 0180).
   */
  environmentUrl?: string;
};

export function createJobReports(db: Db) {
  return {
    /** Stores (or replaces) the job's report. NUL characters are stored as U+FFFD, as in logs. */
    async put(jobRowId: number, report: JobReport): Promise<void> {
      const values = {
        annotations_json: storableText(toJson(report.annotations)),
        summary: storableText(report.summary),
        environment_url:
          report.environmentUrl === undefined ? null : storableText(report.environmentUrl.slice(0, 2048)),
      };
      await db
        .insertInto("job_reports")
        .values({ job_row_id: jobRowId, ...values })
        .onConflict((oc) => oc.column("job_row_id").doUpdateSet(values))
        .execute();
    },

    /** The reports of these jobs; a job without one is absent from the map. */
    async forJobs(jobRowIds: number[]): Promise<Map<number, JobReport>> {
      const out = new Map<number, JobReport>();
      if (jobRowIds.length === 0) return out;
      const rows = await db
        .selectFrom("job_reports")
        .selectAll()
        .where("job_row_id", "in", jobRowIds)
        .execute();
      for (const r of rows)
        out.set(r.job_row_id, {
          annotations: fromJson<StoredAnnotation[]>(r.annotations_json, []),
          summary: r.summary,
          ...(r.environment_url !== null && r.environment_url !== undefined
            ? { environmentUrl: r.environment_url }
            : {}),
        });
      return out;
    },
  };
}

export type JobReports = ReturnType<typeof createJobReports>;
