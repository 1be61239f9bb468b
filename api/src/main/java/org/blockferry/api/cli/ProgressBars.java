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

    private final PrintWriter out;
    private final List<Supplier<CopyProgress>> disks;
    private final boolean terminal;
    private final Thread thread;
    private volatile boolean running = true;
    private int drawnLines;

    ProgressBars(PrintWriter out, List<Supplier<CopyProgress>> disks) {
        this.out = out;
        this.disks = disks;
        this.terminal = System.console() != null && !"dumb".equals(System.getenv("TERM"));
        this.thread = new Thread(this::loop, "progress-bars");
        this.thread.setDaemon(true);
        this.thread.start();
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
        List<CopyProgress> now = disks.stream().map(Supplier::get).toList();
        if (now.stream().noneMatch(ProgressBars::planned)) {
            return; // nothing to show until a disk is planned (a refused copy prints no bar)
        }
        if (terminal && drawnLines > 0) {
            out.print("\033[" + drawnLines + "F");
        }
        for (CopyProgress p : now) {
            String line = render(p);
            out.print(terminal ? line + "\033[K\n" : line + "\n");
        }
        drawnLines = now.size();
        out.flush();
    }

    private static boolean planned(CopyProgress p) {
        return p.phase() != CopyProgress.Phase.PLANNING
                && !(p.phase() == CopyProgress.Phase.STOPPED && p.capacity() == 0);
    }

    static String render(CopyProgress p) {
        double percent = p.percent();
        int filled = (int) Math.round(percent / 100 * WIDTH);
        String bar = "#".repeat(filled) + ".".repeat(WIDTH - filled);
        String eta = p.etaSeconds() < 0 ? "--:--" : String.format(Locale.ROOT, "%02d:%02d", p.etaSeconds() / 60,
                p.etaSeconds() % 60);
        String state = switch (p.phase()) {
            case PLANNING -> "planning";
            case FLUSHING -> "flushing";
            case DONE -> "done";
            case STOPPED -> "stopped";
            case COPYING -> "ETA " + eta;
        };
        return String.format(Locale.ROOT, "%-12s [%s] %6.2f%%  %s / %s  %s/s  %s", p.disk(), bar, percent,
                HumanBytes.format(p.bytesDone()), HumanBytes.format(p.plannedBytes()),
                HumanBytes.format(p.throughputBps()), state);
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
