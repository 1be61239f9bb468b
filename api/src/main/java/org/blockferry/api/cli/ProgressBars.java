package org.blockferry.api.cli;

import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;
import org.blockferry.engine.copy.CopyProgress;

/**
 * Live progress bars, one line per disk: redrawn in place on a terminal, a line every ten
 * seconds otherwise (logs). The bar measures planned bytes, never the capacity.
 */
final class ProgressBars implements AutoCloseable {
    private static final int WIDTH = 30;

    /**
     * One line: what it is, how far (bytes done of the planned total), how fast, and its state.
     * A bar that ended has {@code tookMillis} >= 0 and the average rate of its whole copy; a
     * running one has -1 and its recent rate.
     */
    record Bar(String label, long done, long total, double percent, double rate, long etaSeconds, long tookMillis,
               String state, boolean visible) {

        static Bar running(String label, long done, long total, double percent, double rate, long etaSeconds,
                           String state, boolean visible) {
            return new Bar(label, done, total, percent, rate, etaSeconds, -1, state, visible);
        }

        /** An ended copy: its rate is the average over {@code tookMillis} (bytes done / time taken). */
        static Bar ended(String label, long done, long total, double percent, long tookMillis, String state) {
            double rate = tookMillis > 0 ? done * 1000.0 / tookMillis : 0;
            return new Bar(label, done, total, percent, rate, 0, Math.max(0, tookMillis), state, true);
        }

        static Bar of(CopyProgress p) {
            String state = switch (p.phase()) {
                case PLANNING -> "planning";
                case FLUSHING -> "flushing";
                case DONE -> "done";
                case STOPPED -> "stopped";
                case COPYING -> null;
            };
            boolean visible = p.phase() != CopyProgress.Phase.PLANNING
                    && !(p.phase() == CopyProgress.Phase.STOPPED && p.capacity() == 0);
            if (p.phase() == CopyProgress.Phase.DONE) {
                return ended(p.disk(), p.bytesDone(), p.plannedBytes(), p.percent(), p.elapsedMillis(), state);
            }
            return running(p.disk(), p.bytesDone(), p.plannedBytes(), p.percent(), p.throughputBps(), p.etaSeconds(),
                    state, visible);
        }
    }

    private final PrintWriter out;
    private final Supplier<List<Bar>> bars;
    private final boolean terminal;
    private final Thread thread;
    private volatile boolean running = true;
    private int drawnLines;

    ProgressBars(PrintWriter out, Supplier<List<Bar>> bars) {
        this.out = out;
        this.bars = bars;
        this.terminal = System.console() != null && !"dumb".equals(System.getenv("TERM"));
        this.thread = new Thread(this::loop, "progress-bars");
        this.thread.setDaemon(true);
        this.thread.start();
    }

    /** Bars for copies in progress. */
    static ProgressBars ofCopies(PrintWriter out, List<Supplier<CopyProgress>> copies) {
        return new ProgressBars(out, () -> copies.stream().map(c -> Bar.of(c.get())).toList());
    }

    private void loop() {
        long period = terminal ? 200 : 10_000;
        while (running) {
            draw();
            try {
                Thread.sleep(period);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private synchronized void draw() {
        List<Bar> now;
        try {
            now = bars.get();
        } catch (RuntimeException e) {
            return; // the source is not ready yet (a job still starting)
        }
        if (now.stream().noneMatch(Bar::visible)) {
            return; // nothing to show until something is planned (a refused copy prints no bar)
        }
        if (terminal && drawnLines > 0) {
            out.print("\033[" + drawnLines + "F");
        }
        for (Bar b : now) {
            String line = render(b);
            out.print(terminal ? line + "\033[K\n" : line + "\n");
        }
        drawnLines = now.size();
        out.flush();
    }

    static String render(Bar b) {
        int filled = (int) Math.round(b.percent() / 100 * WIDTH);
        String bar = "#".repeat(filled) + ".".repeat(WIDTH - filled);
        String eta = b.etaSeconds() < 0 ? "--:--" : String.format(Locale.ROOT, "%02d:%02d", b.etaSeconds() / 60,
                b.etaSeconds() % 60);
        String state = b.state() == null ? "ETA " + eta
                : b.tookMillis() >= 0 ? b.state() + " in " + took(b.tookMillis()) : b.state();
        return String.format(Locale.ROOT, "%-12s [%s] %6.2f%%  %s / %s  %s/s  %s", b.label(), bar, b.percent(),
                HumanBytes.format(b.done()), HumanBytes.format(b.total()), HumanBytes.format(b.rate()), state);
    }

    /** "2.6 s" under a minute, then "mm:ss", then "h:mm:ss". */
    static String took(long millis) {
        long s = millis / 1000;
        if (s < 60) {
            return String.format(Locale.ROOT, "%.1f s", millis / 1000.0);
        }
        return s < 3600 ? String.format(Locale.ROOT, "%02d:%02d", s / 60, s % 60)
                : String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
    }

    static String render(CopyProgress p) {
        return render(Bar.of(p));
    }

    /** Draws the final state and stops. */
    @Override
    public void close() {
        running = false;
        thread.interrupt();
        try {
            thread.join(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        draw();
    }
}
