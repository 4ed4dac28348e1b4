/* seed_orders.c: writes the SQL that loads the benchmark's 10,000 orders, the same rows for SQLite and PostgreSQL. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The benchmark seeds with random() and now(); both are replaced by constants
 * so that every machine and run writes the same bytes and the SQLite and
 * PostgreSQL backends hold the same rows, which is what lets their /orders
 * responses be compared byte for byte. Changing any constant below, or the
 * order of the draws in write_row(), changes every row after it. */
#define ORDER_COUNT 10000
#define ROWS_PER_INSERT 500 /* one statement per 500 rows: ~20 statements, fast on both stores */
#define DEFAULT_SEED UINT64_C(20261101)

/* Stands in for the benchmark's now(): 2026-11-01 00:00:00 UTC. */
#define REFERENCE_YEAR 2026
#define REFERENCE_MONTH 11
#define REFERENCE_DAY 1

#define MICROSECONDS_PER_SECOND INT64_C(1000000)
#define SECONDS_PER_DAY INT64_C(86400)
#define MAX_AGE_DAYS 365

#define CUSTOMER_ID_MIN 1
#define CUSTOMER_ID_MAX 1001
#define TOTAL_CENTS_MIN 100
#define TOTAL_CENTS_MAX 100000

/* Eighths give the benchmark's proportions exactly: pending and refunded
 * 12.5% each, the other three 25% each. */
static const char *const status_by_eighth[8] = {
    "pending", "processing", "processing", "completed", "completed", "cancelled", "cancelled", "refunded",
};

enum dialect { DIALECT_NONE, DIALECT_SQLITE, DIALECT_POSTGRES };

struct options {
	enum dialect dialect;
	uint64_t seed;
	int truncate;
	int help;
};

/* splitmix64 (Steele, Lea, Flood 2014): a few lines, full 2^64 period,
 * passes BigCrush, and defined only by integer arithmetic, so the stream is
 * the same on every platform, unlike libc's random(). */
static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* A uniform value in [0, bound). Plain "% bound" would favour small values
 * whenever bound does not divide 2^64; rejecting the draws below 2^64 mod bound
 * leaves a range whose size is a multiple of bound. */
static uint64_t random_below(uint64_t *state, uint64_t bound)
{
	uint64_t threshold = (UINT64_MAX - bound + 1) % bound; /* 2^64 mod bound */
	for (;;) {
		uint64_t draw = next_random(state);
		if (draw >= threshold)
			return draw % bound;
	}
}

static int64_t random_between(uint64_t *state, int64_t low, int64_t high)
{
	return low + (int64_t)random_below(state, (uint64_t)(high - low) + 1);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). Integer arithmetic instead of timegm/mktime: the result
 * must not depend on TZ, and timegm is not in C11. */
static int64_t days_from_civil(int64_t year, int64_t month, int64_t day)
{
	year -= month <= 2;
	int64_t era = (year >= 0 ? year : year - 399) / 400;
	int64_t year_of_era = year - era * 400;
	int64_t day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
	int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
	return era * 146097 + day_of_era - 719468;
}

/* The inverse of days_from_civil. */
static void civil_from_days(int64_t days, int64_t *year, int64_t *month, int64_t *day)
{
	days += 719468;
	int64_t era = (days >= 0 ? days : days - 146096) / 146097;
	int64_t day_of_era = days - era * 146097;
	int64_t year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
	int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
	int64_t month_index = (5 * day_of_year + 2) / 153; /* March is 0 */
	*day = day_of_year - (153 * month_index + 2) / 5 + 1;
	*month = month_index < 10 ? month_index + 3 : month_index - 9;
	*year = year_of_era + era * 400 + (*month <= 2);
}

/* Division rounding toward minus infinity, so instants before 1970 split into
 * a day and a non-negative time of day too. */
static int64_t floor_divide(int64_t numerator, int64_t denominator)
{
	int64_t quotient = numerator / denominator;
	if ((numerator % denominator != 0) && ((numerator < 0) != (denominator < 0)))
		quotient--;
	return quotient;
}

#define TIMESTAMP_LENGTH 26 /* "YYYY-MM-DD HH:MM:SS.ffffff" */
/* Room for any int64 fields, so snprintf can never cut the text short. */
#define TIMESTAMP_BUFFER_SIZE 96

/* "YYYY-MM-DD HH:MM:SS.ffffff": both stores take this text as a timestamp
 * without time zone, read as UTC by the server (see timefmt.h), and SQLite
 * keeps it verbatim. Returns 0, or -1 for an instant outside years 0-9999,
 * which that form cannot hold. */
static int format_timestamp(int64_t unix_microseconds, char out[static TIMESTAMP_BUFFER_SIZE])
{
	int64_t seconds = floor_divide(unix_microseconds, MICROSECONDS_PER_SECOND);
	int64_t microseconds = unix_microseconds - seconds * MICROSECONDS_PER_SECOND;
	int64_t days = floor_divide(seconds, SECONDS_PER_DAY);
	int64_t second_of_day = seconds - days * SECONDS_PER_DAY;
	int64_t year, month, day;

	civil_from_days(days, &year, &month, &day);
	int length =
	    snprintf(out, TIMESTAMP_BUFFER_SIZE,
		     "%04" PRId64 "-%02" PRId64 "-%02" PRId64 " %02" PRId64 ":%02" PRId64 ":%02" PRId64 ".%06" PRId64,
		     year, month, day, second_of_day / 3600, second_of_day / 60 % 60, second_of_day % 60, microseconds);
	return length == TIMESTAMP_LENGTH && year >= 0 ? 0 : -1;
}

static void write_header(const struct options *options)
{
	printf("-- %d orders from seed-orders --dialect %s --seed %" PRIu64 "%s.\n"
	       "-- Generated, reproducible: the same rows for SQLite and PostgreSQL.\n",
	       ORDER_COUNT, options->dialect == DIALECT_SQLITE ? "sqlite" : "postgres", options->seed,
	       options->truncate ? " --truncate" : "");

	if (options->dialect == DIALECT_POSTGRES) {
		/* "relation already exists, skipping" notices would clutter a re-run. */
		printf("SET client_min_messages = warning;\n"
		       "BEGIN;\n"
		       "CREATE TABLE IF NOT EXISTS orders (\n"
		       "\tid SERIAL PRIMARY KEY,\n"
		       "\tcustomer_id INTEGER NOT NULL,\n"
		       "\ttotal_cents INTEGER NOT NULL,\n"
		       "\tstatus VARCHAR(50) NOT NULL,\n"
		       "\tcreated_at TIMESTAMP NOT NULL DEFAULT NOW()\n"
		       ");\n");
	} else {
		/* INTEGER PRIMARY KEY is SQLite's row id, its SERIAL. created_at is
		 * TEXT because that is what SQLite stores (a TIMESTAMP column would
		 * get NUMERIC affinity); CURRENT_TIMESTAMP is UTC text of the same
		 * form, without the fraction. */
		printf("BEGIN;\n"
		       "CREATE TABLE IF NOT EXISTS orders (\n"
		       "\tid INTEGER PRIMARY KEY,\n"
		       "\tcustomer_id INTEGER NOT NULL,\n"
		       "\ttotal_cents INTEGER NOT NULL,\n"
		       "\tstatus VARCHAR(50) NOT NULL,\n"
		       "\tcreated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP\n"
		       ");\n");
	}
	/* The benchmark's index names, so plans and tools see the same schema. */
	printf("CREATE INDEX IF NOT EXISTS idx_orders_customer_id ON orders (customer_id);\n"
	       "CREATE INDEX IF NOT EXISTS idx_orders_created_at ON orders (created_at);\n");

	if (options->truncate) {
		if (options->dialect == DIALECT_POSTGRES)
			printf("TRUNCATE TABLE orders RESTART IDENTITY;\n");
		else
			printf("DELETE FROM orders;\n");
	}
}

/* Draws and writes one row; the order of the draws is part of the output's
 * definition. Returns 0, or -1 if created_at cannot be written. */
static int write_row(uint64_t *state, int64_t reference_microseconds, int id, int first_in_statement)
{
	int64_t customer_id = random_between(state, CUSTOMER_ID_MIN, CUSTOMER_ID_MAX);
	int64_t total_cents = random_between(state, TOTAL_CENTS_MIN, TOTAL_CENTS_MAX);
	const char *status = status_by_eighth[random_below(state, 8)];
	/* [0, 365 days): "now minus up to 365 days", at the stores' microsecond resolution. */
	int64_t age =
	    (int64_t)random_below(state, (uint64_t)(MAX_AGE_DAYS * SECONDS_PER_DAY * MICROSECONDS_PER_SECOND));
	char created_at[TIMESTAMP_BUFFER_SIZE];

	if (format_timestamp(reference_microseconds - age, created_at) != 0) {
		fprintf(stderr, "seed-orders: order %d: created_at %" PRId64 " us falls outside years 0-9999\n", id,
			reference_microseconds - age);
		return -1;
	}
	printf("%s(%d, %" PRId64 ", %" PRId64 ", '%s', '%s')", first_in_statement ? "" : ",\n", id, customer_id,
	       total_cents, status, created_at);
	return 0;
}

static int write_rows(const struct options *options)
{
	uint64_t state = options->seed;
	int64_t reference_microseconds =
	    days_from_civil(REFERENCE_YEAR, REFERENCE_MONTH, REFERENCE_DAY) * SECONDS_PER_DAY * MICROSECONDS_PER_SECOND;

	for (int id = 1; id <= ORDER_COUNT; id++) {
		int first_in_statement = (id - 1) % ROWS_PER_INSERT == 0;
		if (first_in_statement)
			printf("INSERT INTO orders (id, customer_id, total_cents, status, created_at) VALUES\n");
		if (write_row(&state, reference_microseconds, id, first_in_statement) != 0)
			return -1;
		if (id % ROWS_PER_INSERT == 0 || id == ORDER_COUNT)
			printf(";\n");
	}
	return 0;
}

static void write_footer(const struct options *options)
{
	/* Explicit ids leave the SERIAL sequence at 1; without this the next
	 * INSERT that takes the default id would collide with row 1. */
	if (options->dialect == DIALECT_POSTGRES)
		printf("SELECT setval(pg_get_serial_sequence('orders', 'id'), (SELECT max(id) FROM orders));\n");
	printf("COMMIT;\n");
}

static void usage(void)
{
	printf("usage: seed-orders --dialect sqlite|postgres [--seed N] [--truncate]\n"
	       "       seed-orders --help\n"
	       "\n"
	       "Writes to stdout an SQL script that creates the orders table and its\n"
	       "indexes (if absent) and inserts orders 1..%d in one transaction.\n"
	       "The rows depend only on the seed, never on the clock or the machine, and\n"
	       "are the same for both dialects; created_at lies in the %d days before\n"
	       "%04d-%02d-%02d 00:00:00 UTC.\n"
	       "\n"
	       "  --dialect D  sqlite or postgres (required)\n"
	       "  --seed N     the generator's seed, decimal or 0x-hex (default %" PRIu64 ")\n"
	       "  --truncate   empty the table first (postgres: TRUNCATE ... RESTART IDENTITY;\n"
	       "               sqlite: DELETE FROM orders)\n"
	       "  --help       show this and exit\n",
	       ORDER_COUNT, MAX_AGE_DAYS, REFERENCE_YEAR, REFERENCE_MONTH, REFERENCE_DAY, DEFAULT_SEED);
}

static int parse_seed(const char *text, uint64_t *seed)
{
	char *end = NULL;

	/* strtoull takes "-1" as 2^64-1; a seed with a sign is a typo, not a wish. */
	if (text[0] == '\0' || text[0] == '-' || text[0] == '+' || text[0] == ' ')
		return -1;
	errno = 0;
	unsigned long long value = strtoull(text, &end, 0);
	if (errno != 0 || *end != '\0')
		return -1;
	*seed = (uint64_t)value;
	return 0;
}

static int parse_options(int argc, char **argv, struct options *options)
{
	static const struct option long_options[] = {
	    {"dialect", required_argument, NULL, 'd'},
	    {"seed", required_argument, NULL, 's'},
	    {"truncate", no_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int option;

	options->dialect = DIALECT_NONE;
	options->seed = DEFAULT_SEED;
	options->truncate = 0;
	options->help = 0;
	while ((option = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
		switch (option) {
		case 'd':
			if (strcmp(optarg, "sqlite") == 0) {
				options->dialect = DIALECT_SQLITE;
			} else if (strcmp(optarg, "postgres") == 0) {
				options->dialect = DIALECT_POSTGRES;
			} else {
				fprintf(stderr, "seed-orders: --dialect: '%s' is neither sqlite nor postgres\n",
					optarg);
				return -1;
			}
			break;
		case 's':
			if (parse_seed(optarg, &options->seed) != 0) {
				fprintf(stderr, "seed-orders: --seed: '%s' is not an unsigned 64-bit number\n", optarg);
				return -1;
			}
			break;
		case 't':
			options->truncate = 1;
			break;
		case 'h':
			options->help = 1;
			return 0;
		default:
			/* getopt_long has already said what was wrong. */
			fprintf(stderr, "seed-orders: see seed-orders --help\n");
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "seed-orders: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (options->dialect == DIALECT_NONE) {
		fprintf(stderr, "seed-orders: --dialect sqlite|postgres is required (see seed-orders --help)\n");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct options options;

	if (parse_options(argc, argv, &options) != 0)
		return EXIT_FAILURE;

	if (options.help) {
		usage();
	} else {
		/* Without the footer's COMMIT, a script cut short here loads nothing. */
		write_header(&options);
		if (write_rows(&options) != 0)
			return EXIT_FAILURE;
		write_footer(&options);
	}

	/* stdio's error flag is sticky, so one check after the last write covers
	 * every printf above (a full disk, a closed pipe); a script cut short
	 * must not exit 0. */
	errno = 0;
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "seed-orders: writing to stdout: %s\n", errno != 0 ? strerror(errno) : "write error");
		return EXIT_FAILURE;
	}
	if (fclose(stdout) != 0) {
		fprintf(stderr, "seed-orders: closing stdout: %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}
