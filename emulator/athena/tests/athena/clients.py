"""Python clients against the emulator's Athena: boto3, PyAthena and awswrangler.

Usage: clients.py <boto3|pyathena|wrangler> ; the endpoint comes from AWS_ENDPOINT_URL.
Prints one JSON object with what each client returned; the Rust test checks the values.
"""
import json
import sys
import time

DATABASE = "analytics_db"
WORKGROUP = "analytics_workgroup"
SQL = (
    "SELECT day, count(*) AS n, sum(CAST(amount AS decimal(10,2))) AS total "
    "FROM sales_data GROUP BY day ORDER BY day"
)


def boto3_client():
    import boto3

    athena = boto3.client("athena")
    workgroup = athena.get_work_group(WorkGroup=WORKGROUP)["WorkGroup"]
    qid = athena.start_query_execution(
        QueryString=SQL,
        QueryExecutionContext={"Database": DATABASE},
        WorkGroup=WORKGROUP,
    )["QueryExecutionId"]
    while True:
        execution = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
        if execution["Status"]["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
        time.sleep(0.05)
    pages = athena.get_paginator("get_query_results").paginate(QueryExecutionId=qid)
    rows = []
    columns = None
    for page in pages:
        columns = columns or [
            (c["Name"], c["Type"], c.get("Precision"), c.get("Scale"))
            for c in page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
        ]
        rows += [[d.get("VarCharValue") for d in r["Data"]] for r in page["ResultSet"]["Rows"]]
    return {
        "state": execution["Status"]["State"],
        "output": execution["ResultConfiguration"]["OutputLocation"],
        "scanned": execution["Statistics"]["DataScannedInBytes"],
        "columns": columns,
        "rows": rows,
        "workgroup_output": workgroup["Configuration"]["ResultConfiguration"]["OutputLocation"],
    }


def pyathena_client():
    from pyathena import connect
    from pyathena.pandas.cursor import PandasCursor

    connection = connect(work_group=WORKGROUP, schema_name=DATABASE, region_name="us-east-1")
    cursor = connection.cursor()
    cursor.execute(SQL)
    plain = [list(map(str, row)) for row in cursor.fetchall()]
    description = [d[0] for d in cursor.description]
    pandas_cursor = connect(
        work_group=WORKGROUP, schema_name=DATABASE, region_name="us-east-1", cursor_class=PandasCursor
    ).cursor()
    frame = pandas_cursor.execute(SQL).as_pandas()
    return {
        "description": description,
        "rows": plain,
        "pandas": [[str(v) for v in row] for row in frame.itertuples(index=False)],
    }


def wrangler_client():
    import awswrangler as wr

    out = {}
    for ctas in (False, True):
        frame = wr.athena.read_sql_query(
            SQL, database=DATABASE, workgroup=WORKGROUP, ctas_approach=ctas
        )
        out["ctas" if ctas else "plain"] = {
            "columns": list(frame.columns),
            "rows": [[str(v) for v in row] for row in frame.itertuples(index=False)],
        }
    return out


if __name__ == "__main__":
    client = {"boto3": boto3_client, "pyathena": pyathena_client, "wrangler": wrangler_client}[
        sys.argv[1]
    ]
    print(json.dumps(client()))
