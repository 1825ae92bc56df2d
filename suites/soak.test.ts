// The soak (`wirelab run soak`, only when named): constant traffic both ways for the profile's
// soak.minutes at soak.framesPerSecond, or soak.ndrFraction of the NDR measured first, checked second by
// second — a loss burst or a guest that stops forwarding, duplicates, reordering, the latency tail and
// its drift (beside the host canary: a second the host stalled in is the host's) — and the guest's
// health over time: its used memory (virtio balloon statistics) and QEMU's RSS must not grow beyond the
// bounds, and it must keep running. Every failure names the second it began and the likely cause. What
// the guest sends by itself is checked over the whole soak too: protocols that speak every 30 s or
// more (LLDP, RIP) are never seen in a default run of about a minute.
import path from 'node:path';
import { readFile, stat } from 'node:fs/promises';
import * as allure from 'allure-js-commons';
import { hostTraceText } from '../lib/analysis/host-stall.ts';
import { noGuestEmissions } from '../lib/analysis/matchers.ts';
import { hostExcusedSeconds, soakChecks, type SoakInput } from '../lib/analysis/soak-verdict.ts';
import { DEFAULT_PROFILE } from '../lib/core/paths.ts';
import type { Lab } from '../lib/lab/lab.ts';
import { loadProfile } from '../lib/profile/load.ts';
import { DEFAULT_SOAK_PPS } from '../lib/profile/soak-fields.ts';
import type { LabProfile } from '../lib/profile/types.ts';
import { flowHeadline } from '../lib/report/run-events.ts';
import { healthCsv, soakSecondsCsv, soakTimelineSvg } from '../lib/report/soak-report.ts';
import { rfc2544Config } from '../lib/rfc2544/config.ts';
import { searchNdrPdr } from '../lib/rfc2544/search.ts';
import { measureCeiling, rateTrial } from '../lib/rfc2544/trials.ts';
import { runSoak, type SoakRun } from '../lib/traffic/soak-run.ts';
import { CAPTURE_POINTS } from '../lib/core/sides.ts';
import { recordFlowHeadlines } from '../fixtures/headline.ts';
import { bootFactsOf, describe, test } from '../fixtures/lab.ts';
import { reportProgress } from '../fixtures/progress.ts';
import { checks } from '../fixtures/verdict.ts';

const profile = loadProfile(path.resolve(process.env.WIRELAB_PROFILE ?? DEFAULT_PROFILE));
const SECONDS = Math.round(profile.soak.minutes * 60);
/** The soak, its NDR search when asked for, the analysis and the halt; the soak itself is bounded by its own timeouts. */
const TIMEOUT_MS = SECONDS * 2000 + (profile.soak.ndrFraction ? 900_000 : 0) + 240_000;
/** More seconds than this share in which only the host's stall broke the latency bound: the soak says nothing about the image. */
const MAX_HOST_SHARE = 0.1;
/** Pcap segments above this size are named, not attached. */
const MAX_PCAP_BYTES = 32 * 1024 * 1024;

const soaks = new WeakMap<Lab, Promise<SoakRun>>();

/** The lab's soak, once: both tests read it. */
function soakOf(lab: Lab): Promise<SoakRun> {
  let run = soaks.get(lab);
  if (!run) {
    run = (async () => {
      // The soak captures (and attributes) everything itself, streamed: the lab's lifetime capture would fill the disk.
      await bootFactsOf(lab).lifetime.stop();
      const ratePps = await soakRate(lab, profile);
      reportProgress(lab, 'traffic', `soak: ${SECONDS} s at ${ratePps} frames/s each way, ${profile.soak.frameSize}-byte frames`);
      return runSoak(lab, {
        ratePps,
        seconds: SECONDS,
        frameSize: profile.soak.frameSize,
        healthSeconds: profile.soak.healthSeconds,
        onSecond: (s) => {
          if (s.second % 10 !== 9) return;
          const lost = s.flows.reduce((n, c) => n + c.lost, 0);
          const p99 = Math.max(...s.flows.map((c) => c.latencyUs?.p99 ?? 0));
          reportProgress(lab, 'traffic', `soak: second ${s.second + 1} of ${SECONDS}: ${lost} lost, p99 ${(p99 / 1000).toFixed(1)} ms`);
        },
      });
    })();
    soaks.set(lab, run);
  }
  return run;
}

/** soak.framesPerSecond, or soak.ndrFraction of the NDR measured now for the soak's frame size, or the default. */
async function soakRate(lab: Lab, p: LabProfile): Promise<number> {
  if (p.soak.framesPerSecond !== undefined) return p.soak.framesPerSecond;
  if (p.soak.ndrFraction === undefined) return DEFAULT_SOAK_PPS;
  const config = rfc2544Config(p.rfc2544, process.env);
  const wireSize = p.soak.frameSize + 4;
  const ctx = {
    lab,
    wireSize,
    label: 'soak-ndr',
    onTrial: (what: string, r: { achievedPps: number; lost: number; sent: number }) =>
      reportProgress(lab, 'traffic', `NDR for the soak: ${what}: achieved ${Math.round(r.achievedPps)} pps, ${r.lost} of ${r.sent} lost`),
  };
  const ceiling = config.maxPps ?? (await measureCeiling(ctx, config.ceilingFrames)).pps;
  const ndr = await allure.step(`NDR for the soak, ${wireSize}-byte frames (RFC 2544 search)`, () =>
    searchNdrPdr(rateTrial(ctx, config.trialSeconds, config.minFrames), { ...config, ceilingPps: ceiling }),
  );
  const rate = Math.max(1, Math.floor(ndr.ndr.ratePps * p.soak.ndrFraction));
  allure.parameter('NDR', `${ndr.ndr.ratePps} frames/s; the soak runs at ${p.soak.ndrFraction} of it: ${rate} frames/s`);
  return rate;
}

function inputOf(run: SoakRun): SoakInput {
  const s = profile.soak;
  return {
    flows: run.flows,
    seconds: run.seconds,
    health: run.health,
    bounds: {
      maxLostPerSecond: s.maxLostPerSecond,
      latencyP99Ms: s.latencyP99Ms,
      latencyDriftMs: s.latencyDriftMs,
      memoryGrowthMiB: s.memoryGrowthMiB,
      rssGrowthMiB: s.rssGrowthMiB,
    },
    ...(run.guestStopped ? { guestStopped: run.guestStopped } : {}),
  };
}

async function attachSoakEvidence(run: SoakRun, marks: { second: number; label: string }[]): Promise<void> {
  const title = `Soak of ${profile.name}: ${run.seconds.length} s at ${run.ratePps} frames/s each way`;
  const svg = soakTimelineSvg({
    title,
    flows: run.flows,
    seconds: run.seconds,
    health: run.health,
    latencyBoundMs: profile.soak.latencyP99Ms,
    marks,
  });
  await allure.attachment('soak timeline', svg, { contentType: 'image/svg+xml', fileExtension: 'svg' });
  await allure.attachment('soak per second (CSV)', soakSecondsCsv(run.flows, run.seconds), {
    contentType: 'text/csv',
    fileExtension: 'csv',
  });
  await allure.attachment('guest health (CSV)', healthCsv(run.health), { contentType: 'text/csv', fileExtension: 'csv' });
  if (run.host) await allure.attachment('host canary', hostTraceText(run.host), 'text/plain');
  await allure.attachment('soak cost (wirelab itself)', resourcesText(run), 'text/plain');
  for (const point of CAPTURE_POINTS) {
    for (const file of run.pcaps[point]) {
      const size = (await stat(file).catch(() => undefined))?.size ?? 0;
      if (size === 0 || size > MAX_PCAP_BYTES) continue;
      await allure.attachment(path.basename(file), await readFile(file), {
        contentType: 'application/vnd.tcpdump.pcap',
        fileExtension: 'pcap',
      });
    }
  }
}

function resourcesText(run: SoakRun): string {
  const r = run.resources;
  const drops = Object.entries(run.captureDrops)
    .map(([p, n]) => `${p} ${n}`)
    .join(', ');
  return [
    `frames joined on line: ${r.framesJoined} (four capture points)`,
    `wirelab's worker at its peak: ${r.peakRssMiB.toFixed(0)} MiB resident, ${r.peakHeapMiB.toFixed(0)} MiB JavaScript heap`,
    `evidence on disk at its peak (the pcap ring): ${r.peakDiskMiB.toFixed(1)} MiB`,
    `capture drops (tcpdump, "dropped by kernel"): ${drops}`,
    ...run.injections.map(
      (i) => `${i.side} sender: ${i.sent} frames sent at ${Math.round(i.achievedPps)} frames/s (asked ${i.requestedPps})`,
    ),
  ].join('\n');
}

describe('soak', () => {
  test(
    'soak: constant traffic both ways, checked every second — no loss burst, no drift, no memory growth, the guest keeps running',
    async ({ lab }) => {
      const s = profile.soak;
      allure.parameter('soak', `${SECONDS} s, ${s.frameSize}-byte frames`);
      allure.parameter(
        'bounds',
        `lost per second ≤ ${s.maxLostPerSecond}; p99 per second ≤ ${s.latencyP99Ms} ms; median drift ≤ ${s.latencyDriftMs} ms; ` +
          `guest memory +${s.memoryGrowthMiB} MiB; QEMU RSS +${s.rssGrowthMiB} MiB`,
      );
      const run = await allure.step(`soak for ${SECONDS} s`, () => soakOf(lab));
      allure.parameter('rate', `${run.ratePps} frames/s each way`);
      console.error(`soak: ${resourcesText(run).split('\n').slice(0, 3).join('; ')}`);
      const input = inputOf(run);
      const results = soakChecks(input);
      const marks = results
        .filter((c) => !c.result.pass)
        .flatMap((c) => {
          const m = /second (\d+)/.exec(c.result.headline);
          return m ? [{ second: Number(m[1]), label: c.name }] : [];
        });
      await attachSoakEvidence(run, marks);
      recordFlowHeadlines(run.totals.map(flowHeadline));
      const verdict = checks();
      for (const c of results) verdict.check(c.name, c.result);
      const excused = hostExcusedSeconds(input);
      if (verdict.passed && excused.length > MAX_HOST_SHARE * run.seconds.length)
        await verdict.inconclusive(
          `inconclusive — the host stalled in ${excused.length} of ${run.seconds.length} seconds of the soak (first at second ` +
            `${excused[0]}), more than ${MAX_HOST_SHARE * 100} %: the latency says nothing about the image`,
        );
      await verdict.assert();
    },
    TIMEOUT_MS,
  );

  test(
    'guest emissions over the whole soak: nothing of its own beyond its role (slow talkers such as LLDP or RIP included)',
    async ({ lab }) => {
      const run = await soakOf(lab);
      const report = { flows: [], emissions: run.emissions, emissionList: run.emissionList, captureDrops: run.captureDrops };
      const tolerate = profile.expect.guestMayEmit;
      allure.parameter('listened', `${run.seconds.length} s on all four points`);
      if (run.emissionList.length > 0) {
        const first = run.emissionList[0]!.tsNs;
        const lines = run.emissionList.map(
          (e) =>
            `${(Number(e.tsNs - first) / 1e9).toFixed(3).padStart(9)} s  ${e.point.padEnd(11)}  ${e.class.padEnd(15)}  ${e.srcMac}  ${e.summary}`,
        );
        await allure.attachment('emissions', lines.join('\n'), 'text/plain');
      }
      const verdict = checks().check(
        'the guest sends nothing by itself over the soak',
        noGuestEmissions(report, { role: profile.role, tolerate, guestMacs: [lab.ports.left.guestMac, lab.ports.right.guestMac] }),
      );
      await verdict.assert();
    },
    TIMEOUT_MS,
  );
});
