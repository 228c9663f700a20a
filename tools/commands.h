/* One function per `sandtrail` subcommand, in tools/cmd_<name>.c.  Each
 * returns the process exit status; argv[0] is the command's name. */
#ifndef SANDTRAIL_COMMANDS_H
#define SANDTRAIL_COMMANDS_H

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage; /* first line: synopsis; the rest: options */
};

int cmd_keygen(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_unwatch(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_watch(int argc, char **argv);

extern const char cmd_keygen_usage[];
extern const char cmd_ps_usage[];
extern const char cmd_replay_usage[];
extern const char cmd_run_usage[];
extern const char cmd_stop_usage[];
extern const char cmd_unwatch_usage[];
extern const char cmd_verify_usage[];
extern const char cmd_watch_usage[];

/* Prints a command's usage to stdout (help) or stderr (misuse); returns 0 or 2. */
int command_usage(const char *usage, int misuse);

#endif
