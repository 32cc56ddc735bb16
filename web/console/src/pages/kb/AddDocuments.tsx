// Adding documents to a knowledge base: files by drag-and-drop or picker (with upload progress),
// a URL to fetch, or pasted text.

import { type DragEvent, type FormEvent, useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useOrgId } from "../../auth/session";
import { Button, Card, ErrorBox, Field, INPUT } from "../../components/ui";
import { api, orgPath } from "../../lib/api";
import { ApiProblem, errorMessage } from "../../lib/problem";
import { keys } from "../../lib/queries";
import { uploadFile } from "../../lib/upload";

type Mode = "file" | "url" | "text";

interface Upload {
  id: number;
  name: string;
  progress: number;
  error?: string;
  done?: boolean;
}

let nextUpload = 1;

function FileDrop({ kb }: { kb: string }) {
  const { t } = useTranslation();
  const org = useOrgId();
  const queries = useQueryClient();
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [over, setOver] = useState(false);
  const update = (id: number, change: Partial<Upload>) =>
    setUploads((list) => list.map((u) => (u.id === id ? { ...u, ...change } : u)));
  // Uploads still running when this leaves the page are aborted.
  const aborter = useRef<AbortController | null>(null);
  useEffect(() => {
    const controller = new AbortController();
    aborter.current = controller;
    return () => controller.abort();
  }, []);

  function start(files: FileList | null) {
    for (const file of Array.from(files ?? [])) {
      const id = nextUpload++;
      setUploads((list) => [...list, { id, name: file.name, progress: 0 }]);
      const signal = aborter.current?.signal;
      uploadFile(api, orgPath(org, `/knowledge-bases/${kb}/documents`), file, (progress) => update(id, { progress }), signal ? { signal } : {})
        .then(() => update(id, { done: true, progress: 1 }))
        .catch((e: unknown) => {
          if (!signal?.aborted) update(id, { error: errorMessage(e) });
        })
        .finally(() => void queries.invalidateQueries({ queryKey: keys.documents(org, kb) }));
    }
  }

  const drop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    start(e.dataTransfer.files);
  };
  return (
    <div>
      <div
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={drop}
        className={`flex flex-col items-center justify-center gap-2 rounded-lg border-2 border-dashed p-6 text-sm ${
          over ? "border-indigo-500 bg-indigo-50 dark:bg-indigo-950" : "border-slate-300 dark:border-slate-700"
        }`}
      >
        <p className="text-slate-600 dark:text-slate-300">{t("upload.drop")}</p>
        <label className="cursor-pointer rounded-md bg-indigo-600 px-3 py-2 font-medium text-white hover:bg-indigo-700 focus-within:outline-2 focus-within:outline-indigo-500">
          {t("upload.choose")}
          <input
            type="file"
            multiple
            className="sr-only"
            accept=".txt,.md,.markdown,.csv,.html,.htm,.pdf,text/plain,text/markdown,text/csv,text/html,application/pdf"
            onChange={(e) => {
              start(e.target.files);
              e.target.value = "";
            }}
          />
        </label>
        <p className="text-xs text-slate-500 dark:text-slate-400">{t("upload.types")}</p>
      </div>
      {uploads.length > 0 && (
        <ul className="mt-3 space-y-2" aria-label={t("upload.list")}>
          {uploads.map((u) => (
            <li key={u.id} className="text-sm">
              <div className="flex justify-between">
                <span>{u.name}</span>
                <span className={u.error ? "text-red-600 dark:text-red-400" : "text-slate-500"}>
                  {u.error ?? (u.done ? t("upload.done") : `${Math.round(u.progress * 100)}%`)}
                </span>
              </div>
              <progress className="h-2 w-full accent-indigo-600" max={1} value={u.progress} aria-label={t("upload.progress", { name: u.name })} />
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function JsonDocument({ kb, mode }: { kb: string; mode: "url" | "text" }) {
  const { t } = useTranslation();
  const org = useOrgId();
  const queries = useQueryClient();
  const [title, setTitle] = useState("");
  const [value, setValue] = useState("");
  const add = useMutation({
    mutationFn: () =>
      api.post(
        orgPath(org, `/knowledge-bases/${kb}/documents`),
        mode === "url" ? { url: value.trim(), ...(title.trim() ? { title: title.trim() } : {}) } : { title: title.trim(), text: value },
      ),
    onSuccess: () => {
      setTitle("");
      setValue("");
      void queries.invalidateQueries({ queryKey: keys.documents(org, kb) });
    },
  });
  const problem = add.error instanceof ApiProblem ? add.error : null;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    add.mutate();
  };
  return (
    <form onSubmit={submit} className="space-y-3" noValidate>
      <Field label={mode === "url" ? t("upload.titleOptional") : t("upload.title")} error={problem?.fieldError("title")}>
        {(p) => <input {...p} className={INPUT} value={title} onChange={(e) => setTitle(e.target.value)} />}
      </Field>
      {mode === "url" ? (
        <Field label={t("upload.url")} error={problem?.fieldError("url")}>
          {(p) => <input {...p} type="url" placeholder="https://" className={INPUT} value={value} onChange={(e) => setValue(e.target.value)} />}
        </Field>
      ) : (
        <Field label={t("upload.text")} error={problem?.fieldError("text")}>
          {(p) => <textarea {...p} rows={6} className={INPUT} value={value} onChange={(e) => setValue(e.target.value)} />}
        </Field>
      )}
      {add.error && !problem?.errors.some((f) => ["title", "url", "text"].includes(f.field)) && <ErrorBox error={add.error} />}
      <Button type="submit" disabled={add.isPending}>
        {mode === "url" ? t("upload.addUrl") : t("upload.addText")}
      </Button>
    </form>
  );
}

export function AddDocuments({ kb }: { kb: string }) {
  const { t } = useTranslation();
  const [mode, setMode] = useState<Mode>("file");
  return (
    <Card>
      <h2 className="mb-3 text-base font-semibold">{t("upload.title_section")}</h2>
      <div role="group" aria-label={t("upload.how")} className="mb-4 inline-flex rounded-md border border-slate-300 dark:border-slate-600">
        {(["file", "url", "text"] as const).map((m) => (
          <button
            key={m}
            type="button"
            aria-pressed={mode === m}
            onClick={() => setMode(m)}
            className={`px-3 py-1.5 text-sm ${mode === m ? "bg-indigo-600 text-white" : "text-slate-700 dark:text-slate-200"}`}
          >
            {t(`upload.mode.${m}`)}
          </button>
        ))}
      </div>
      {mode === "file" ? <FileDrop kb={kb} /> : <JsonDocument key={mode} kb={kb} mode={mode} />}
    </Card>
  );
}
