/* test_pgsql_conninfo.c: a PostgreSQL DATABASE_URL is logged as libpq reads it, and never with a byte of its password.
 */
#include <stdlib.h>
#include <string.h>

#include "pgsql_conninfo.h"
#include "tap.h"

static char shown[1024];
static char *password;

static const char *describe(const char *url)
{
	free(password);
	password = NULL;
	if (pgsql_conninfo_describe(url, shown, sizeof shown, &password) != 0)
		return "(refused)";
	return shown;
}

int main(void)
{
	IS_STRING(describe("postgresql://apiuser:apipassword@db:5432/ordersdb"),
		  "user=apiuser password=**** dbname=ordersdb host=db port=5432", "a URI as libpq reads it");
	IS_STRING(password, "apipassword", "and libpq's reading of the password, which fuzz_dsn checks shown against");
	IS_STRING(describe("postgresql://u:p%40ss@h:5432/d?sslmode=disable"),
		  "user=u password=**** dbname=d host=h port=5432 sslmode=disable",
		  "a percent-encoded '@' in the password");
	IS_STRING(password, "p@ss", "decoded as libpq decodes it");
	IS_STRING(describe("postgresql://u@h/d"), "user=u dbname=d host=h", "no password");
	IS_STRING(describe("host=h password=secret dbname=d"), "password=**** dbname=d host=h", "a keyword string");
	IS_STRING(describe("password = 'se cret' host='a b'"), "password=**** host='a b'", "quoted values");
	IS_STRING(describe("postgresql://h/d?user=u&password=secret"), "user=u password=**** dbname=d host=h",
		  "a URI's password parameter");
	IS_STRING(describe("postgresql://h/d?pass%77ord=secret"), "password=**** dbname=d host=h",
		  "a percent-escaped parameter name");
	IS_STRING(describe("postgresql://u:se?cr#et@h/d"), "user=u password=**** dbname=d host=h",
		  "'?' and '#' inside the password");
	IS_STRING(describe("postgresql://h/d?user=me@corp"), "user=me@corp dbname=d host=h",
		  "an '@' in a query value is fine");
	/* What the issue found in the log. */
	IS_STRING(describe("postgresql://apiuser:Zm9v/YmFy+S3CRET==@127.0.0.1:5432/ordersdb"), "(refused)",
		  "a '/' in the password (base64) is refused: libpq would read it as host and database");
	OK(strstr(shown, "%2F") != NULL && strstr(shown, "Zm9v") == NULL && strstr(shown, "S3CRET") == NULL,
	   "saying how to write it, without quoting it: %s", shown);
	IS_STRING(describe("postgresql://apiuser:pa@ss@127.0.0.1:5432/ordersdb"), "(refused)",
		  "an unencoded '@' in the password is refused");
	OK(strstr(shown, "ss@127") == NULL && strstr(shown, "%40") != NULL, "saying how to write it: %s", shown);
	IS_STRING(describe("postgresql://u:Zq8/?host=a@b"), "(refused)", "a password read as a port, '@' in the query");
	IS_STRING(describe("postgresql://u:a%zz@h/d"), "(refused)", "a malformed percent-escape is refused");
	OK(strstr(shown, "a%zz") == NULL && strstr(shown, "percent") != NULL, "without quoting it: %s", shown);
	free(password);
	DONE_TESTING();
}
