// A bot's settings form: name, description, AI settings (provider, model, system prompt,
// temperature, knowledge bases, fallback message), allowed origins; and its provider status.

import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useOrgId } from "../../auth/session";
import { Button, Card, ErrorBox, Field, INPUT } from "../../components/ui";
import { api, orgPath } from "../../lib/api";
import { ApiProblem } from "../../lib/problem";
import { keys, useKnowledgeBases } from "../../lib/queries";
import type { Bot } from "../../lib/types";
import { ProviderStatus } from "./ProviderStatus";

export const PROVIDERS = ["local", "openai", "anthropic", "openai-compatible"] as const;

interface Form {
  name: string;
  description: string;
  provider: string;
  model: string;
  system_prompt: string;
  temperature: string;
  knowledge_base_ids: string[];
  unavailable_message: string;
  allowed_origins: string;
}

const formOf = (bot: Bot): Form => ({
  name: bot.name,
  description: bot.description,
  provider: bot.ai_config.provider,
  model: bot.ai_config.model,
  system_prompt: bot.ai_config.system_prompt,
  temperature: String(bot.ai_config.temperature),
  knowledge_base_ids: bot.ai_config.knowledge_base_ids,
  unavailable_message: bot.settings.unavailable_message,
  allowed_origins: bot.settings.allowed_origins.join("\n"),
});

export default function SettingsTab({ bot }: { bot: Bot }) {
  const { t } = useTranslation();
  const org = useOrgId();
  const queries = useQueryClient();
  const kbs = useKnowledgeBases();
  const [form, setForm] = useState<Form>(() => formOf(bot));
  const [saved, setSaved] = useState(false);
  const set = <K extends keyof Form>(name: K, value: Form[K]) => {
    setSaved(false);
    setForm((f) => ({ ...f, [name]: value }));
  };

  const save = useMutation({
    mutationFn: () =>
      api.patch<Bot>(orgPath(org, `/bots/${bot.id}`), {
        name: form.name,
        description: form.description,
        ai_config: {
          provider: form.provider,
          model: form.model.trim() || null,
          system_prompt: form.system_prompt,
          temperature: Number(form.temperature),
          knowledge_base_ids: form.knowledge_base_ids,
        },
        settings: {
          unavailable_message: form.unavailable_message,
          allowed_origins: form.allowed_origins.split(/\s+/).filter(Boolean),
        },
      }),
    onSuccess: (updated) => {
      queries.setQueryData(keys.bot(org, bot.id), updated);
      void queries.invalidateQueries({ queryKey: keys.bots(org), exact: true });
      setForm(formOf(updated));
      setSaved(true);
    },
  });
  const problem = save.error instanceof ApiProblem ? save.error : null;
  const err = (field: string) => problem?.fieldError(field);
  const shown = [
    "name",
    "description",
    "ai_config.provider",
    "ai_config.model",
    "ai_config.system_prompt",
    "ai_config.temperature",
    "ai_config.knowledge_base_ids",
    "settings.unavailable_message",
    "settings.allowed_origins",
  ];
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  const toggleKb = (id: string, on: boolean) =>
    set("knowledge_base_ids", on ? [...form.knowledge_base_ids, id] : form.knowledge_base_ids.filter((k) => k !== id));

  return (
    <div className="grid gap-4 lg:grid-cols-3">
      <Card className="lg:col-span-2">
        <form onSubmit={submit} className="space-y-4" noValidate>
          <Field label={t("bots.name")} error={err("name")}>
            {(p) => <input {...p} className={INPUT} value={form.name} onChange={(e) => set("name", e.target.value)} />}
          </Field>
          <Field label={t("bot.description")} error={err("description")}>
            {(p) => <input {...p} className={INPUT} value={form.description} onChange={(e) => set("description", e.target.value)} />}
          </Field>
          <h2 className="pt-2 text-base font-semibold">{t("bot.ai")}</h2>
          <div className="grid gap-4 sm:grid-cols-2">
            <Field label={t("bot.provider")} error={err("ai_config.provider")}>
              {(p) => (
                <select {...p} className={INPUT} value={form.provider} onChange={(e) => set("provider", e.target.value)}>
                  {PROVIDERS.map((name) => (
                    <option key={name} value={name}>
                      {name}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <Field label={t("bot.model")} error={err("ai_config.model")} hint={t("bot.modelHint")}>
              {(p) => <input {...p} className={INPUT} value={form.model} onChange={(e) => set("model", e.target.value)} />}
            </Field>
          </div>
          <Field label={t("bot.systemPrompt")} error={err("ai_config.system_prompt")}>
            {(p) => (
              <textarea {...p} rows={4} className={INPUT} value={form.system_prompt} onChange={(e) => set("system_prompt", e.target.value)} />
            )}
          </Field>
          <Field label={t("bot.temperature")} error={err("ai_config.temperature")}>
            {(p) => (
              <input
                {...p}
                type="number"
                min={0}
                max={2}
                step={0.1}
                className={`${INPUT} max-w-32`}
                value={form.temperature}
                onChange={(e) => set("temperature", e.target.value)}
              />
            )}
          </Field>
          <fieldset className="space-y-2">
            <legend className="text-sm font-medium text-slate-700 dark:text-slate-200">{t("bot.knowledgeBases")}</legend>
            {kbs.data?.length === 0 && (
              <p className="text-sm text-slate-500 dark:text-slate-400">
                {t("bot.noKnowledgeBases")}{" "}
                <Link to="/knowledge" className="text-indigo-700 hover:underline dark:text-indigo-300">
                  {t("knowledge.create")}
                </Link>
              </p>
            )}
            {kbs.error && <ErrorBox error={kbs.error} />}
            <div className="flex flex-wrap gap-x-6 gap-y-2">
              {kbs.data?.map((kb) => (
                <label key={kb.id} className="flex items-center gap-2 text-sm">
                  <input
                    type="checkbox"
                    checked={form.knowledge_base_ids.includes(kb.id)}
                    onChange={(e) => toggleKb(kb.id, e.target.checked)}
                  />
                  {kb.name}
                </label>
              ))}
            </div>
            {err("ai_config.knowledge_base_ids") && <p className="text-sm text-red-600">{err("ai_config.knowledge_base_ids")}</p>}
          </fieldset>
          <Field label={t("bot.fallbackMessage")} error={err("settings.unavailable_message")} hint={t("bot.fallbackHint")}>
            {(p) => (
              <textarea
                {...p}
                rows={2}
                className={INPUT}
                value={form.unavailable_message}
                onChange={(e) => set("unavailable_message", e.target.value)}
              />
            )}
          </Field>
          <Field label={t("bot.allowedOrigins")} error={err("settings.allowed_origins")} hint={t("bot.allowedOriginsHint")}>
            {(p) => (
              <textarea {...p} rows={2} className={INPUT} value={form.allowed_origins} onChange={(e) => set("allowed_origins", e.target.value)} />
            )}
          </Field>
          {problem && problem.errors.every((f) => shown.includes(f.field)) && problem.errors.length > 0 ? null : (
            <ErrorBox error={save.error} message={problem ? problem.summary(shown) : undefined} />
          )}
          <div className="flex items-center gap-3">
            <Button type="submit" disabled={save.isPending}>
              {t("common.save")}
            </Button>
            {saved && (
              <span role="status" className="text-sm text-green-700 dark:text-green-400">
                {t("common.saved")}
              </span>
            )}
          </div>
        </form>
      </Card>
      <ProviderStatus bot={bot} provider={form.provider} />
    </div>
  );
}
