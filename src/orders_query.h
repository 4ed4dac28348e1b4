/* orders_query.h: the contract's SQL and its columns, the one text both stores (SQLite, PostgreSQL) run. */
#ifndef WEBAPI_ORDERS_QUERY_H
#define WEBAPI_ORDERS_QUERY_H

/* The columns in the order the row readers take them. */
enum orders_column {
	ORDERS_COLUMN_ID,
	ORDERS_COLUMN_CUSTOMER_ID,
	ORDERS_COLUMN_TOTAL_CENTS,
	ORDERS_COLUMN_STATUS,
	ORDERS_COLUMN_CREATED_AT,
	ORDERS_COLUMN_COUNT,
};

#define ORDERS_QUERY_COLUMNS "id, customer_id, total_cents, status, created_at"

/* The contract's default page, exactly as the contract writes it. */
#define ORDERS_QUERY_DEFAULT_SQL "SELECT " ORDERS_QUERY_COLUMNS " FROM orders LIMIT 100 OFFSET 1000"

/* A page by limit and offset. "$1" is PostgreSQL's placeholder and one of
 * SQLite's ("$" names a parameter; numbered by first appearance, so 1 and
 * 2 bind as with "?1" and "?2"): one text for both. */
#define ORDERS_QUERY_PAGE_SQL "SELECT " ORDERS_QUERY_COLUMNS " FROM orders LIMIT $1 OFFSET $2"

/* A column's name, for the reason a bad row gives. */
static inline const char *orders_query_column_name(enum orders_column column)
{
	static const char *const names[ORDERS_COLUMN_COUNT] = {"id", "customer_id", "total_cents", "status",
							       "created_at"};

	return column < ORDERS_COLUMN_COUNT ? names[column] : "?";
}

#endif
