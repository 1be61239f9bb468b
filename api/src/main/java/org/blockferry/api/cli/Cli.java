package org.blockferry.api.cli;

import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code blockferry} command line: parses arguments, runs one command, and turns every
 * failure into one line on stderr and an exit code (0 done, 1 failed or different, 2 bad input).
 */
public final class Cli {
    public static final int OK = 0;
    public static final int FAILED = 1;
    public static final int BAD_INPUT = 2;

    private Cli() {
    }

    /**
     * The commands, by name, in the order of the help. Picocli builds a command's model by
     * reflection over its annotations, with classes too old for the class-data archive: a run
     * builds only the command it runs (all of them for the help, or when the name is unknown).
     */
    private static final Map<String, Supplier<Object>> COMMANDS = new LinkedHashMap<>();

    static {
        COMMANDS.put("copy", CopyCommand::new);
        COMMANDS.put("verify", VerifyCommand::new);
        COMMANDS.put("replicate", ReplicateCommand::new);
        COMMANDS.put("jobs", JobsCommand.ListJobs::new);
        COMMANDS.put("job", JobsCommand.ShowJob::new);
        COMMANDS.put("cluster", ClusterCommand::new);
        COMMANDS.put("serve", ServeCommand::new);
        COMMANDS.put("demo", DemoCommand::new);
        COMMANDS.put("cds-training", CdsTrainingCommand::new);
    }

    @Command(name = "blockferry", mixinStandardHelpOptions = true, versionProvider = Version.class,
            description = {"Replicates virtual machine disks over NBD: full copies, then only what changed.", ""},
            footer = {"", "Run 'blockferry COMMAND --help' for a command's options."})
    static final class Root implements Runnable {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public void run() {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "a command is required (copy, verify, replicate, jobs, job, cluster, serve, demo)");
        }
    }

    /** Runs the command line and returns the exit code. */
    public static int run(String... args) {
        return run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args);
    }

    static int run(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cli = new CommandLine(new Root());
        Supplier<Object> only = args.length > 0 ? COMMANDS.get(args[0]) : null;
        if (only != null) {
            cli.addSubcommand(only.get());
        } else {
            COMMANDS.values().forEach(command -> cli.addSubcommand(command.get()));
        }
        cli.setUsageHelpWidth(100); // the descriptions are written for 100 columns
        cli.setOut(out);
        cli.setErr(err);
        cli.setParameterExceptionHandler((e, a) -> {
            CommandLine cmd = e.getCommandLine();
            err.println(cmd.getCommandSpec().qualifiedName() + ": " + e.getMessage()
                    + " (see '" + cmd.getCommandSpec().qualifiedName() + " --help')");
            return BAD_INPUT;
        });
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            CliErrors.Failure f = CliErrors.describe(e);
            err.println(cmd.getCommandSpec().qualifiedName() + ": " + f.message());
            return f.exitCode();
        });
        return cli.execute(args);
    }
}
