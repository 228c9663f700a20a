/* A Kafka cluster for the tests: librdkafka's own mock cluster (the real
 * protocol over TCP on loopback), with a topic made at start, driven by
 * lines written to a FIFO:
 *   down ID | up ID          broker ID (1..N, -1: all) refuses / takes connections
 *   rtt ID MS                broker ID answers MS milliseconds late
 *   produce-errors N CODE    the next N Produce requests fail with CODE (a Kafka error code)
 *   quit
 * Prints "bootstrap HOST:PORT,..." once it listens, then "done <command>"
 * when a command took effect (stdout, line-buffered).
 * usage: kafka_mock [--brokers N] [--partitions P] --topic T[:PARTITIONS] [--topic ...] FIFO
 * (librdkafka's mock keeps about the last 5 MB of each partition: tests
 * that read a topic whole stay below that) */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PRODUCE_API 0 /* the Produce request's API key */

int main(int argc, char **argv)
{
	int brokers = 1, partitions = 1, opt;
	const char *topics[16];
	int ntopics = 0;
	char err[512], line[256];
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	FILE *ctl;

	static const struct option longopts[] = {
		{ "brokers", required_argument, NULL, 'b' },
		{ "partitions", required_argument, NULL, 'p' },
		{ "topic", required_argument, NULL, 't' },
		{ 0 },
	};
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'b': brokers = atoi(optarg); break;
		case 'p': partitions = atoi(optarg); break;
		case 't':
			if (ntopics == 16)
				return 2;
			topics[ntopics++] = optarg;
			break;
		default: return 2;
		}
	}
	if (!ntopics || optind + 1 != argc || brokers < 1 || partitions < 1) {
		fprintf(stderr, "usage: kafka_mock [--brokers N] [--partitions P] --topic T[:PARTITIONS] [--topic ...] FIFO\n");
		return 2;
	}
	/* O_RDWR: the FIFO never reads as ended while no writer has it open */
	ctl = fdopen(open(argv[optind], O_RDWR | O_CLOEXEC), "r");
	if (!ctl) {
		fprintf(stderr, "kafka_mock: %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	conf = rd_kafka_conf_new();
	/* it has no bootstrap.servers, and is not to say so */
	rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
	/* the instance the mock cluster keeps its books with; it talks to no one */
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!rk) {
		fprintf(stderr, "kafka_mock: %s\n", err);
		return 1;
	}
	mc = rd_kafka_mock_cluster_new(rk, brokers);
	if (!mc) {
		fprintf(stderr, "kafka_mock: cannot make the cluster\n");
		return 1;
	}
	for (int i = 0; i < ntopics; i++) {
		char name[256];
		int parts = partitions;

		if (sscanf(topics[i], "%255[^:]:%d", name, &parts) < 1 || parts < 1 ||
		    rd_kafka_mock_topic_create(mc, name, parts, brokers)) {
			fprintf(stderr, "kafka_mock: cannot make topic %s\n", topics[i]);
			return 1;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(mc));
	while (fgets(line, sizeof(line), ctl)) {
		int id, n, code, ms;

		line[strcspn(line, "\n")] = 0;
		if (sscanf(line, "down %d", &id) == 1)
			rd_kafka_mock_broker_set_down(mc, id);
		else if (sscanf(line, "up %d", &id) == 1)
			rd_kafka_mock_broker_set_up(mc, id);
		else if (sscanf(line, "rtt %d %d", &id, &ms) == 2)
			rd_kafka_mock_broker_set_rtt(mc, id, ms);
		else if (sscanf(line, "produce-errors %d %d", &n, &code) == 2)
			for (int i = 0; i < n; i++)
				rd_kafka_mock_push_request_errors(mc, PRODUCE_API, 1, (rd_kafka_resp_err_t)code);
		else if (!strcmp(line, "quit"))
			break;
		else {
			fprintf(stderr, "kafka_mock: unknown command '%s'\n", line);
			continue;
		}
		printf("done %s\n", line);
	}
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return 0;
}
