'use strict';
// BlockFerry's live page: the job list and the cluster's nodes (polled), one event stream per
// unfinished job (live progress), and the submission form. Plain DOM, no libraries; text always
// goes in as text.
(() => {
  const FINAL = new Set(['completed', 'failed', 'cancelled']);
  const REFRESH_MS = 5000;
  const TOKEN_KEY = 'blockferry.token';
  /** job id -> {card, status, final, stream, pending, disks: Map(id -> element)} */
  const jobs = new Map();

  const $ = (selector, root = document) => root.querySelector(selector);
  const fromTemplate = id => document.getElementById(id).content.firstElementChild.cloneNode(true);

  // ---- token ----

  function token() {
    try {
      return localStorage.getItem(TOKEN_KEY) || '';
    } catch (e) {
      return $('#token').value.trim();
    }
  }

  function storeToken(value) {
    try {
      if (value) {
        localStorage.setItem(TOKEN_KEY, value);
      } else {
        localStorage.removeItem(TOKEN_KEY);
      }
    } catch (e) {
      // storage disabled: the field's value is used as it is
    }
  }

  // ---- API ----

  class ApiError extends Error {
    constructor(status, message, field) {
      super(message);
      this.status = status;
      this.field = field;
    }
  }

  async function api(path, options = {}) {
    const headers = Object.assign({Accept: 'application/json'}, options.headers);
    if (token()) {
      headers.Authorization = 'Bearer ' + token();
    }
    const response = await fetch(path, Object.assign({}, options, {headers, cache: 'no-store'}));
    let body = null;
    try {
      body = await response.json();
    } catch (e) {
      // not JSON: the status says enough
    }
    if (!response.ok) {
      const error = body && body.error;
      throw new ApiError(response.status, error ? error.message : `HTTP ${response.status}`,
          error ? error.field : null);
    }
    return body;
  }

  const jobPath = id => '/api/v1/jobs/' + encodeURIComponent(id);

  // ---- formatting ----

  function bytes(n) {
    if (n == null) {
      return '–';
    }
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    let v = n;
    let i = 0;
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return (i === 0 ? String(v) : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)) + ' ' + units[i];
  }

  const rate = bps => (bps ? bytes(Math.round(bps)) + '/s' : '–');

  function duration(seconds) {
    if (seconds == null || seconds < 0 || !isFinite(seconds)) {
      return '–';
    }
    const s = Math.round(seconds);
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const pad = x => String(x).padStart(2, '0');
    return h ? `${h}h ${pad(m)}m` : m ? `${m}m ${pad(s % 60)}s` : `${s}s`;
  }

  const time = iso => (iso ? new Date(iso).toLocaleTimeString() : '');

  // ---- rendering ----

  /** The figures of a job or disk: every view (list, detail, event stream) sends the one job document. */
  function figures(doc) {
    return {
      status: doc.status,
      mode: doc.mode,
      percent: Number(doc.progress_percent || 0),
      total: doc.total_bytes,
      done: doc.bytes_transferred,
      rate: doc.throughput_bps,
      eta: doc.eta_seconds,
      retries: doc.retries || 0,
      error: doc.error,
    };
  }

  function paintBar(bar, f) {
    const pct = Math.max(0, Math.min(100, f.percent));
    bar.dataset.percent = String(pct);
    bar.dataset.status = f.status || '';
    $('.fill', bar).style.width = pct + '%';
    $('.label', bar).textContent = pct.toFixed(1) + ' %';
  }

  function paintFigures(root, prefix, f) {
    const final = FINAL.has(f.status);
    $(`.${prefix}-bytes`, root).textContent = `${bytes(f.done)} of ${bytes(f.total)}`
        + (f.retries ? ` · ${f.retries} retries` : '');
    $(`.${prefix}-rate`, root).textContent = final ? '' : rate(f.rate);
    $(`.${prefix}-eta`, root).textContent = final || f.eta == null ? '' : 'ETA ' + duration(f.eta);
    const status = $(`.${prefix}-status`, root);
    status.textContent = f.status || '';
    status.dataset.status = f.status || '';
    const error = $(`.${prefix}-error`, root);
    error.textContent = f.error || '';
    error.hidden = !f.error;
  }

  function card(id) {
    let job = jobs.get(id);
    if (!job) {
      const el = fromTemplate('job-template');
      el.dataset.jobId = id;
      $('.job-id', el).textContent = id;
      $('.job-cancel', el).addEventListener('click', () => cancel(id));
      job = {card: el, status: null, final: false, stream: null, pending: false, disks: new Map()};
      jobs.set(id, job);
      $('#job-list').prepend(el);
      $('#no-jobs').hidden = true;
      loadDetail(id);
    }
    return job;
  }

  /**
   * Shows a job document. {@code live} marks documents from the event stream, which are newer
   * than the read side's: while a stream is open only it moves the figures, and a final state is
   * never undone by a read side that lags behind.
   */
  function showJob(doc, live) {
    const job = card(doc.job_id);
    const f = figures(doc);
    const stale = (job.final || (!live && job.stream)) && !FINAL.has(f.status);
    const el = job.card;
    // what the job is never goes stale; only its figures do
    if (doc.vm) {
      $('.job-vm', el).textContent = doc.vm;
    }
    if (doc.mode) {
      $('.job-mode', el).textContent = doc.mode;
    }
    if (doc.node && !stale) {
      $('.job-node', el).textContent = 'on ' + doc.node;
      el.dataset.node = doc.node;
    }
    if (doc.submitted_at && (!stale || !$('.job-time', el).textContent)) {
      $('.job-time', el).textContent = 'submitted ' + time(doc.submitted_at)
          + (doc.started_at && doc.finished_at
              ? ' · took ' + duration((Date.parse(doc.finished_at) - Date.parse(doc.started_at)) / 1000) : '');
    }
    for (const disk of doc.disks || []) {
      showDisk(job, disk, !stale);
    }
    if (stale) {
      return;
    }
    setStatus(doc.job_id, f.status, Array.isArray(doc.disks));
    paintBar($('.job-bar', el), f);
    paintFigures(el, 'job', f);
  }

  /**
   * {@code withDisks}: the status came with the disks' figures. A job that becomes final without
   * them (a state event, or a list row from the read side, which may be ahead of the stream) has its
   * stream closed before the stream's last figures arrive: its detail is read once for them.
   */
  function setStatus(jobId, status, withDisks) {
    const job = jobs.get(jobId);
    if (!status || !job) {
      return;
    }
    job.status = status;
    job.card.dataset.status = status;
    $('.job-status', job.card).textContent = status;
    $('.job-status', job.card).dataset.status = status;
    $('.job-cancel', job.card).hidden = !(status === 'queued' || status === 'running');
    if (FINAL.has(status) && !job.final) {
      job.final = true;
      closeStream(job);
      if (!withDisks) {
        loadDetail(jobId);
      }
    } else if (!FINAL.has(status)) {
      openStream(jobId);
    }
  }

  function showDisk(job, doc, withFigures) {
    let el = job.disks.get(doc.id);
    if (!el) {
      el = fromTemplate('disk-template');
      el.dataset.diskId = doc.id;
      $('.disk-id', el).textContent = doc.id;
      job.disks.set(doc.id, el);
      $('.disks', job.card).append(el);
    }
    if (doc.source || doc.target) {
      const path = $('.disk-path', el);
      path.textContent = `${doc.source || '?'} → ${doc.target || '?'}`;
      path.title = path.textContent;
    }
    if (doc.volume_id) {
      // beside the path, not in it: a long path is cut off at its end
      $('.disk-volume', el).textContent = 'volume ' + doc.volume_id;
    }
    if (!withFigures) {
      return;
    }
    const f = figures(doc);
    if (f.mode) {
      $('.disk-mode', el).textContent = f.mode;
    }
    paintBar($('.disk-bar', el), f);
    paintFigures(el, 'disk', f);
    // a provisioned target (a CloudStack volume): the step it is at, before its copy starts
    const step = $('.disk-provisioning', el);
    step.textContent = doc.status === 'provisioning' && doc.provisioning_step ? doc.provisioning_step : '';
    step.hidden = !step.textContent;
    if (doc.status === 'provisioning') {
      // nothing is planned before the volume is there: no figures yet
      for (const figure of ['.disk-bytes', '.disk-rate', '.disk-eta']) {
        $(figure, el).textContent = '';
      }
    }
  }

  // ---- live updates ----

  function openStream(jobId) {
    const job = jobs.get(jobId);
    if (!job || job.stream || job.final || typeof EventSource === 'undefined') {
      return;
    }
    const t = token();
    const stream = new EventSource(jobPath(jobId) + '/events' + (t ? '?access_token=' + encodeURIComponent(t) : ''));
    job.stream = stream;
    job.card.classList.add('live');
    stream.addEventListener('progress', e => showJob(JSON.parse(e.data), true));
    stream.addEventListener('state', e => {
      // the figures come with progress events (the last one just before a final state)
      const state = JSON.parse(e.data);
      setStatus(jobId, state.status, false);
      if (state.error) {
        const error = $('.job-error', job.card);
        error.textContent = state.error;
        error.hidden = false;
      }
    });
    stream.onerror = () => {
      // EventSource reconnects by itself (with Last-Event-ID) unless the server refused it
      if (stream.readyState === EventSource.CLOSED && job.stream === stream) {
        closeStream(job);
      }
    };
  }

  function closeStream(job) {
    if (job.stream) {
      job.stream.close();
      job.stream = null;
    }
    job.card.classList.remove('live');
  }

  async function loadDetail(jobId) {
    try {
      showJob(await api(jobPath(jobId)), false);
    } catch (e) {
      // the list or the stream will show the job; a missing detail is not worth an alert
    }
  }

  async function refresh() {
    const errorBox = $('#jobs-error');
    let page;
    try {
      page = await api('/api/v1/jobs?limit=50');
    } catch (e) {
      errorBox.textContent = 'Cannot list jobs: ' + e.message
          + (e.status === 401 ? ' — set the API token at the top right (the server\'s BLOCKFERRY_API_TOKEN,'
            + ' or the file api-token in its data directory, ~/.blockferry/api-token by default).' : '');
      errorBox.hidden = false;
      return;
    }
    errorBox.hidden = true;
    const listed = new Set(page.jobs.map(doc => doc.job_id));
    for (const [jobId, job] of jobs) {
      if (!listed.has(jobId) && !job.pending) {
        closeStream(job);
        job.card.remove();
        jobs.delete(jobId);
      }
    }
    const list = $('#job-list');
    for (const doc of page.jobs) {
      showJob(doc, false);
      const job = jobs.get(doc.job_id);
      job.pending = false;
      list.append(job.card); // the list's order: newest first, after jobs the list has not seen yet
    }
    $('#no-jobs').hidden = jobs.size > 0;
  }

  /** The cluster's members and what each runs, refreshed with the job list. */
  async function refreshNodes() {
    const errorBox = $('#nodes-error');
    let cluster;
    try {
      cluster = await api('/api/v1/cluster');
    } catch (e) {
      errorBox.textContent = 'Cannot list the nodes: ' + e.message;
      errorBox.hidden = false;
      return;
    }
    errorBox.hidden = true;
    const rows = cluster.members.map(member => {
      const row = fromTemplate('node-template');
      row.dataset.node = member.node;
      row.dataset.status = member.status;
      row.dataset.reachable = String(member.reachable);
      $('.node-name', row).textContent = member.node;
      $('.node-self', row).hidden = !member.self;
      $('.node-leader', row).hidden = member.node !== cluster.leader;
      $('.node-status', row).textContent = member.status;
      $('.node-status', row).dataset.status = member.status;
      $('.node-reachable', row).textContent = member.reachable ? 'yes' : 'no';
      $('.node-jobs', row).textContent = String(member.running_jobs);
      $('.node-disks', row).textContent = String(member.running_disks);
      return row;
    });
    $('#node-list').replaceChildren(...rows);
    $('#node-table').hidden = rows.length === 0;
    const waiting = $('#waiting-jobs');
    waiting.textContent = `${cluster.waiting_jobs} job${cluster.waiting_jobs === 1 ? '' : 's'} queued cluster-wide`;
    waiting.hidden = false;
  }

  async function cancel(jobId) {
    const job = jobs.get(jobId);
    try {
      // a JSON body, like every state-changing request: the server refuses anything a plain
      // cross-site form could send
      await api(jobPath(jobId) + '/cancel', {method: 'POST', headers: {'Content-Type': 'application/json'},
        body: '{}'});
      setStatus(jobId, 'cancelling');
    } catch (e) {
      const error = $('.job-error', job.card);
      error.textContent = 'Cancel failed: ' + e.message;
      error.hidden = false;
    }
  }

  function restartStreams() {
    for (const job of jobs.values()) {
      closeStream(job);
      if (!job.final) {
        openStream(job.card.dataset.jobId);
      }
    }
    refresh();
    refreshNodes();
  }

  // ---- the form ----

  function addDiskRow() {
    const rows = $('#disk-rows');
    const row = fromTemplate('disk-row-template');
    const taken = new Set([...rows.querySelectorAll('input[name=id]')].map(i => i.value));
    let n = 0;
    while (taken.has('disk' + n)) {
      n++;
    }
    $('input[name=id]', row).value = 'disk' + n;
    $('.remove-disk', row).addEventListener('click', () => {
      if (rows.children.length > 1) {
        row.remove();
      }
    });
    rows.append(row);
    return row;
  }

  function jobSpec() {
    const text = selector => $(selector).value.trim() || undefined;
    return {
      job_id: text('#job-id'),
      vm: text('#vm'),
      source: {kind: $('#source-kind').value},
      mode: $('#mode').value,
      disks: [...document.querySelectorAll('#disk-rows .disk-row')].map(row => ({
        id: $('input[name=id]', row).value.trim() || undefined,
        source: $('input[name=source]', row).value.trim() || undefined,
        target: $('input[name=target]', row).value.trim() || undefined,
      })),
      options: {
        max_parallel_disks: Number($('#max-parallel-disks').value || 0),
        verify: $('#verify').checked,
        target_is_zero: $('#target-is-zero').checked,
        fail_fast: $('#fail-fast').checked,
      },
    };
  }

  /** The form control an API error names: "vm", "job_id", "disks[1].target", ... */
  function fieldInput(field) {
    if (!field) {
      return null;
    }
    const disk = /^disks\[(\d+)\](?:\.(id|source|target))?/.exec(field);
    if (disk) {
      const row = document.querySelectorAll('#disk-rows .disk-row')[Number(disk[1])];
      return row ? $(`input[name=${disk[2] || 'source'}]`, row) : null;
    }
    const byField = {vm: '#vm', job_id: '#job-id', mode: '#mode', 'source.kind': '#source-kind',
      'options.max_parallel_disks': '#max-parallel-disks'};
    return byField[field] ? $(byField[field]) : null;
  }

  async function submit(event) {
    event.preventDefault();
    const errorBox = $('#submit-error');
    const result = $('#submit-result');
    const button = $('#submit');
    errorBox.hidden = true;
    result.hidden = true;
    document.querySelectorAll('#submit-form .invalid').forEach(el => el.classList.remove('invalid'));
    button.disabled = true;
    try {
      const accepted = await api('/api/v1/jobs', {
        method: 'POST',
        headers: {'Content-Type': 'application/json'},
        body: JSON.stringify(jobSpec()),
      });
      result.textContent = `Job ${accepted.job_id} ${accepted.status}.`;
      result.hidden = false;
      $('#job-id').value = '';
      const job = card(accepted.job_id);
      job.pending = true;
      showJob({job_id: accepted.job_id, vm: $('#vm').value.trim(), status: accepted.status}, true);
    } catch (e) {
      errorBox.textContent = e.message;
      errorBox.dataset.status = e.status || '';
      errorBox.dataset.field = e.field || '';
      errorBox.hidden = false;
      const input = fieldInput(e.field);
      if (input) {
        input.classList.add('invalid');
        input.focus();
      }
    } finally {
      button.disabled = false;
    }
  }

  // ---- start ----

  let reconnect = null;
  const tokenInput = $('#token');
  tokenInput.value = token();
  tokenInput.addEventListener('input', () => {
    storeToken(tokenInput.value.trim());
    clearTimeout(reconnect);
    reconnect = setTimeout(restartStreams, 300);
  });
  $('#add-disk').addEventListener('click', () => $('input[name=source]', addDiskRow()).focus());
  $('#submit-form').addEventListener('submit', submit);
  addDiskRow();
  refresh();
  refreshNodes();
  setInterval(refresh, REFRESH_MS);
  setInterval(refreshNodes, REFRESH_MS);
})();
