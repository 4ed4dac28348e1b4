/* pgsql_describe.c: prints a PostgreSQL DATABASE_URL as the responder logs it (libpq's reading, password masked), for
 * scripts/seed-db and scripts/bench. */
#include <stdio.h>

#include "pgsql_conninfo.h"

int main(int argc, char **argv)
{
	char shown[1024];

	if (argc != 2) {
		fprintf(stderr, "usage: pgsql-describe URL\n");
		return 2;
	}
	if (pgsql_conninfo_describe(argv[1], shown, sizeof shown, NULL) != 0) {
		fprintf(stderr, "%s\n", shown);
		return 1;
	}
	printf("%s\n", shown);
	return 0;
}
