/* test_dsn.c: DATABASE_URL picks the store, an unknown one refused unquoted; PG_STATEMENTS picks the statements. */
#include <string.h>

#include "dsn.h"
#include "tap.h"

static struct db_config config;
static char error[512];

static int parse(const char *url)
{
	return dsn_parse(url, "/default/orders.db", &config, error, sizeof error);
}

int main(void)
{
	OK(parse(NULL) == 0 && config.kind == DB_SQLITE && strcmp(config.target, "/default/orders.db") == 0,
	   "unset: the embedded default");
	OK(parse("") == 0 && config.kind == DB_SQLITE, "empty: the embedded default");
	OK(parse("sqlite:///abs/path.db") == 0 && config.kind == DB_SQLITE &&
	       strcmp(config.target, "/abs/path.db") == 0,
	   "sqlite:///abs keeps the absolute path");
	OK(parse("sqlite://rel/path.db") == 0 && strcmp(config.target, "rel/path.db") == 0, "sqlite://rel is relative");
	OK(parse("sqlite://") != 0, "sqlite:// without a file is refused");
	OK(parse("postgresql://apiuser:apipassword@db:5432/ordersdb") == 0 && config.kind == DB_POSTGRES &&
	       strcmp(config.target, "postgresql://apiuser:apipassword@db:5432/ordersdb") == 0,
	   "postgresql:// goes to libpq unchanged");
	OK(strstr(config.masked, "apipassword") == NULL, "and is named without its password: %s", config.masked);
	OK(parse("postgres://u@h/d") == 0 && config.kind == DB_POSTGRES, "postgres:// too");
	OK(parse("host=a,b port=5432 dbname=ordersdb") == 0 && config.kind == DB_POSTGRES,
	   "a libpq keyword string with several hosts");
	OK(parse("mysql://u:secret@h/d") != 0 && strstr(error, "secret") == NULL && strstr(error, "mysql") != NULL,
	   "an unknown scheme is refused without echoing its password");
	OK(parse("u:pa/ss@h") != 0 && strstr(error, "pa/ss") == NULL && strstr(error, "ss@h") == NULL,
	   "so is text that is no URL at all: %s", error);

	OK(dsn_parse_statements(NULL, &config, error, sizeof error) == 0 && config.statements == DB_STATEMENTS_AUTO,
	   "PG_STATEMENTS unset: named statements until the server loses them");
	OK(dsn_parse_statements("unnamed", &config, error, sizeof error) == 0 &&
	       config.statements == DB_STATEMENTS_UNNAMED,
	   "PG_STATEMENTS=unnamed");
	OK(dsn_parse_statements("named", &config, error, sizeof error) == 0 && config.statements == DB_STATEMENTS_NAMED,
	   "PG_STATEMENTS=named");
	OK(dsn_parse_statements("Unnamed ", &config, error, sizeof error) != 0 && strstr(error, "unnamed") != NULL,
	   "another value is refused, naming the choices: %s", error);

	DONE_TESTING();
}
