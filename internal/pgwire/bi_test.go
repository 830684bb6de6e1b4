package pgwire_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/pgwire"
)

// supersetScript does what Superset does over SQLAlchemy's PostgreSQL dialect with psycopg2 when
// a user tests a connection, adds a dataset and previews it: create_engine and connect (the
// dialect's own first queries: version(), current_schema(), standard_conforming_strings, the
// isolation level), Superset's get_catalog_names, search_path prequery, get_cancel_query_id and cancel_query
// (apache/superset superset/db_engine_specs/postgres.py at commit
// 007e4f5f4b4a4b08b24b1f2fc14bcf5abb16237d), then the inspector calls of its dataset editor and
// a SELECT … LIMIT. It prints one line per step: the step's name and its answer as JSON.
const supersetScript = `
import sys, json
from sqlalchemy import create_engine, inspect, text
dsn, schema, table = sys.argv[1], sys.argv[2], sys.argv[3]
engine = create_engine(dsn)
def out(name, value):
    print(name + " " + json.dumps(value, default=str, sort_keys=True))
with engine.connect() as conn:
    out("isolation", conn.get_isolation_level())
    out("version", list(engine.dialect.server_version_info))
    out("default_schema", engine.dialect.default_schema_name)
    out("catalogs", sorted(c for (c,) in conn.execute(text("SELECT datname FROM pg_database\nWHERE datistemplate = false;"))))
    conn.execute(text('set search_path = "%s"' % schema))
    pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    out("backend_pid", pid > 0)
    out("cancel", conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid='%s'" % pid)).fetchall())
insp = inspect(engine)
out("schemas", insp.get_schema_names())
out("tables", sorted(set(insp.get_table_names(schema=schema)) | set(insp.get_foreign_table_names(schema=schema))))
out("views", insp.get_view_names(schema=schema))
out("has_table", insp.has_table(table, schema=schema))
out("columns", [[c["name"], str(c["type"]), c["nullable"]] for c in insp.get_columns(table, schema=schema)])
out("pk", insp.get_pk_constraint(table, schema=schema)["constrained_columns"])
out("fks", insp.get_foreign_keys(table, schema=schema))
out("indexes", insp.get_indexes(table, schema=schema))
out("uniques", insp.get_unique_constraints(table, schema=schema))
out("checks", insp.get_check_constraints(table, schema=schema))
out("comment", insp.get_table_comment(table, schema=schema)["text"])
q = 'SELECT eventname, eventtime FROM "%s"."%s" ORDER BY eventtime LIMIT 3' % (schema, table)
with engine.connect() as conn:
    out("rows", len(conn.execute(text(q)).fetchall()))
out("engine_execute", len(engine.execute(q).fetchall()))
`

// TestSupersetOverSQLAlchemy: Superset's connection test, dataset editor and preview through
// SQLAlchemy's PostgreSQL dialect and psycopg2 (Debian python3-sqlalchemy, python3-psycopg2):
// every reflection call answers, the columns have their Postgres types, and a principal whose
// grant shows one store sees only that store's tables.
func TestSupersetOverSQLAlchemy(t *testing.T) {
	f := sharedLake(t)
	py := debianPython(t, "sqlalchemy", "psycopg2")
	s := startServer(t, f.dir, pgwire.Options{})
	run := func(user string, secret string) map[string]string {
		t.Helper()
		dsn := "postgresql+psycopg2://" + user + ":" + secret + "@" + s.addr + "/auditlake"
		out, err := exec.Command(py, "-W", "ignore", "-c", supersetScript, dsn, "aws:cloudtrail", "trail").CombinedOutput()
		if err != nil {
			t.Fatalf("Superset's SQLAlchemy steps: %v\n%s", err, out)
		}
		got := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			name, value, _ := strings.Cut(line, " ")
			got[name] = value
		}
		return got
	}
	got := run(f.admin.AccessKeyID, f.admin.SecretAccessKey)
	want := map[string]string{
		"isolation":      `"READ COMMITTED"`,
		"version":        `[15, 0]`,
		"default_schema": `"public"`,
		"catalogs":       `["auditlake"]`,
		"backend_pid":    `true`,
		"cancel":         `[]`, // no connection is listed in pg_stat_activity by pid, none is ended by SQL
		"views":          `[]`,
		"has_table":      `true`,
		"pk":             `[]`,
		"fks":            `[]`,
		"indexes":        `[]`,
		"uniques":        `[]`,
		"checks":         `[]`,
		"comment":        `"event data store trail (` + f.storeID + `)"`,
		"rows":           `3`,
		"engine_execute": `3`,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s, want %s", k, got[k], v)
		}
	}
	for _, w := range []string{`"aws:cloudtrail"`, `"information_schema"`, `"public"`} {
		if !strings.Contains(got["schemas"], w) {
			t.Errorf("schemas %s: no %s", got["schemas"], w)
		}
	}
	if !strings.Contains(got["tables"], `"trail"`) || !strings.Contains(got["tables"], `"`+f.storeID+`"`) || !strings.Contains(got["tables"], `"auditlake-audit"`) {
		t.Errorf("tables: %s", got["tables"])
	}
	for _, w := range []string{`["eventtime", "TIMESTAMP", true]`, `["eventname", "TEXT", true]`, `["readonly", "BOOLEAN", true]`, `["useridentity", "JSON", true]`} {
		if !strings.Contains(got["columns"], w) {
			t.Errorf("columns: no %s in %s", w, got["columns"])
		}
	}
	// bob's grant shows the one store: Superset lists neither the audit store nor anything else.
	bob := run(f.bob.AccessKeyID, f.bob.SecretAccessKey)
	if strings.Contains(bob["tables"], "auditlake-audit") || !strings.Contains(bob["tables"], `"trail"`) || bob["rows"] != "3" {
		t.Errorf("bob's tables %s, rows %s", bob["tables"], bob["rows"])
	}
}

// dbeaverQueries are the catalog queries DBeaver's PostgreSQL plugin sends when it connects,
// reads the data types, lists a database's schemas and a schema's tables, and opens a table
// (columns, constraints, indexes): dbeaver/dbeaver
// plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql at commit
// 2428359b748778a5a345432906ab3da69289c20c — model/PostgreDataSource.java
// (prepareReadDatabaseListStatement with the defaults, loadAvailableDatabases, initialize with
// PostgreUtils.getQueryForSystemColumnChecking), model/PostgreExecutionContext.java
// (refreshDefaults), model/PostgreDatabase.java (SchemaCache, supportsSysTypCategoryColumn),
// model/PostgreDataTypeCache.java (prepareObjectsStatement with getBaseTypeNameClause),
// model/PostgreSchema.java (TableCache.prepareLookupStatement and prepareChildrenStatement for
// one table, ConstraintCache, IndexCache), and PostgreDataSource's settings query. $1 is where
// the driver puts DBeaver's parameter (<SCHEMA OID>, <TABLE OID> are found by the queries before).
var dbeaverQueries = []struct{ sql, arg string }{
	{"SELECT db.oid,db.* FROM pg_catalog.pg_database db WHERE 1 = 1 AND datallowconn AND NOT datistemplate OR db.datname =$1\nORDER BY db.datname", "auditlake"},
	{"SELECT current_database()", ""},
	{"SELECT version()", ""},
	{"SELECT * FROM pg_catalog.pg_enum WHERE 1<>1 LIMIT 1", ""},
	{"SELECT reltype FROM pg_catalog.pg_class WHERE 1<>1 LIMIT 1", ""},
	{"SELECT typcategory FROM pg_catalog.pg_type WHERE 1<>1 LIMIT 1", ""},
	{"SELECT current_schema(),session_user", ""},
	{"SHOW search_path", ""},
	{"SELECT n.oid,n.*,d.description FROM pg_catalog.pg_namespace n\nLEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=n.oid AND d.objsubid=0 AND d.classoid='pg_namespace'::regclass\n ORDER BY nspname", ""},
	{"SELECT t.oid,t.*,c.relkind,format_type(nullif(t.typbasetype, 0), t.typtypmod) as base_type_name, d.description\nFROM pg_catalog.pg_type t\nLEFT OUTER JOIN pg_catalog.pg_type et ON et.oid=t.typelem \nLEFT OUTER JOIN pg_catalog.pg_class c ON c.oid=t.typrelid\nLEFT OUTER JOIN pg_catalog.pg_description d ON t.oid=d.objoid\nWHERE t.typname IS NOT NULL\nAND (c.relkind IS NULL OR c.relkind = 'c') AND (et.typcategory IS NULL OR et.typcategory <> 'C')\nAND t.typnamespace=$1 ", "11"},
	{"SELECT c.oid,c.*,d.description,pg_catalog.pg_get_expr(c.relpartbound, c.oid) as partition_expr,  pg_catalog.pg_get_partkeydef(c.oid) as partition_key \nFROM pg_catalog.pg_class c\nLEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=c.oid AND d.objsubid=0 AND d.classoid='pg_class'::regclass\nWHERE c.relnamespace=$1 AND c.relkind not in ('i','I','c')", "<SCHEMA OID>"},
	{"SELECT c.relname,a.*,pg_catalog.pg_get_expr(ad.adbin, ad.adrelid, true) as def_value,dsc.description,dep.objid\nFROM pg_catalog.pg_attribute a\nINNER JOIN pg_catalog.pg_class c ON (a.attrelid=c.oid)\nLEFT OUTER JOIN pg_catalog.pg_attrdef ad ON (a.attrelid=ad.adrelid AND a.attnum = ad.adnum)\nLEFT OUTER JOIN pg_catalog.pg_description dsc ON (c.oid=dsc.objoid AND a.attnum = dsc.objsubid)\nLEFT OUTER JOIN pg_depend dep on dep.refobjid = a.attrelid AND dep.deptype = 'i' and dep.refobjsubid = a.attnum and dep.classid = dep.refclassid\nWHERE NOT a.attisdropped AND c.relkind not in ('i','I','c') AND c.oid=$1\nORDER BY a.attnum", "<TABLE OID>"},
	{"SELECT c.oid,c.*,t.relname as tabrelname,rt.relnamespace as refnamespace,d.description, case when c.contype='c' then \"substring\"(pg_get_constraintdef(c.oid), 7) else null end consrc_copy\nFROM pg_catalog.pg_constraint c\nINNER JOIN pg_catalog.pg_class t ON t.oid=c.conrelid\nLEFT OUTER JOIN pg_catalog.pg_class rt ON rt.oid=c.confrelid\nLEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=c.oid AND d.objsubid=0 AND d.classoid='pg_constraint'::regclass\nWHERE c.conrelid=$1\nORDER BY c.oid", "<TABLE OID>"},
	{"SELECT i.*,i.indkey as keys,c.relname,c.relnamespace,c.relam,c.reltablespace,tc.relname as tabrelname,dsc.description,pg_catalog.pg_get_expr(i.indpred, i.indrelid) as pred_expr,pg_catalog.pg_get_expr(i.indexprs, i.indrelid, true) as expr,pg_catalog.pg_relation_size(i.indexrelid) as index_rel_size,pg_catalog.pg_stat_get_numscans(i.indexrelid) as index_num_scans\nFROM pg_catalog.pg_index i\nINNER JOIN pg_catalog.pg_class c ON c.oid=i.indexrelid\nINNER JOIN pg_catalog.pg_class tc ON tc.oid=i.indrelid\nLEFT OUTER JOIN pg_catalog.pg_description dsc ON i.indexrelid=dsc.objoid\nWHERE  i.indrelid=$1 ORDER BY c.relname", "<TABLE OID>"},
	{"select * from pg_catalog.pg_settings where name=$1", "search_path"},
}

// pgjdbcMetadataQueries are what the PostgreSQL JDBC driver's DatabaseMetaData sends (DBeaver
// calls getSQLKeywords to learn the server's keywords; other JDBC tools list with getSchemas,
// getTables and getColumns): pgjdbc/pgjdbc
// pgjdbc/src/main/java/org/postgresql/jdbc/PgDatabaseMetaData.java at commit
// 3a699d57d957ca0c2b86e619d001a8763a130027 — getSQLKeywords, getCatalogs, getSchemas(null,
// null), getTables(null, "aws:cloudtrail", "%", {"TABLE", "VIEW"}) and getColumns(null,
// "aws:cloudtrail", <TABLE>, "%") for a server of version 15.
var pgjdbcMetadataQueries = map[string]string{
	"getSQLKeywords": `select string_agg(word, ',') from pg_catalog.pg_get_keywords() where word <> ALL ('{a,abs,absolute,action,ada,add,admin,after,all,allocate,alter,always,and,any,are,array,as,asc,asensitive,assertion,assignment,asymmetric,at,atomic,attribute,attributes,authorization,avg,before,begin,bernoulli,between,bigint,binary,blob,boolean,both,breadth,by,c,call,called,cardinality,cascade,cascaded,case,cast,catalog,catalog_name,ceil,ceiling,chain,char,char_length,character,character_length,character_set_catalog,character_set_name,character_set_schema,characteristics,characters,check,checked,class_origin,clob,close,coalesce,cobol,code_units,collate,collation,collation_catalog,collation_name,collation_schema,collect,column,column_name,command_function,command_function_code,commit,committed,condition,condition_number,connect,connection_name,constraint,constraint_catalog,constraint_name,constraint_schema,constraints,constructors,contains,continue,convert,corr,corresponding,count,covar_pop,covar_samp,create,cross,cube,cume_dist,current,current_collation,current_date,current_default_transform_group,current_path,current_role,current_time,current_timestamp,current_transform_group_for_type,current_user,cursor,cursor_name,cycle,data,date,datetime_interval_code,datetime_interval_precision,day,deallocate,dec,decimal,declare,default,defaults,deferrable,deferred,defined,definer,degree,delete,dense_rank,depth,deref,derived,desc,describe,descriptor,deterministic,diagnostics,disconnect,dispatch,distinct,domain,double,drop,dynamic,dynamic_function,dynamic_function_code,each,element,else,end,end-exec,equals,escape,every,except,exception,exclude,excluding,exec,execute,exists,exp,external,extract,false,fetch,filter,final,first,float,floor,following,for,foreign,fortran,found,free,from,full,function,fusion,g,general,get,global,go,goto,grant,granted,group,grouping,having,hierarchy,hold,hour,identity,immediate,implementation,in,including,increment,indicator,initially,inner,inout,input,insensitive,insert,instance,instantiable,int,integer,intersect,intersection,interval,into,invoker,is,isolation,join,k,key,key_member,key_type,language,large,last,lateral,leading,left,length,level,like,ln,local,localtime,localtimestamp,locator,lower,m,map,match,matched,max,maxvalue,member,merge,message_length,message_octet_length,message_text,method,min,minute,minvalue,mod,modifies,module,month,more,multiset,mumps,name,names,national,natural,nchar,nclob,nesting,new,next,no,none,normalize,normalized,not,"null",nullable,nullif,nulls,number,numeric,object,octet_length,octets,of,old,on,only,open,option,options,or,order,ordering,ordinality,others,out,outer,output,over,overlaps,overlay,overriding,pad,parameter,parameter_mode,parameter_name,parameter_ordinal_position,parameter_specific_catalog,parameter_specific_name,parameter_specific_schema,partial,partition,pascal,path,percent_rank,percentile_cont,percentile_disc,placing,pli,position,power,preceding,precision,prepare,preserve,primary,prior,privileges,procedure,public,range,rank,read,reads,real,recursive,ref,references,referencing,regr_avgx,regr_avgy,regr_count,regr_intercept,regr_r2,regr_slope,regr_sxx,regr_sxy,regr_syy,relative,release,repeatable,restart,result,return,returned_cardinality,returned_length,returned_octet_length,returned_sqlstate,returns,revoke,right,role,rollback,rollup,routine,routine_catalog,routine_name,routine_schema,row,row_count,row_number,rows,savepoint,scale,schema,schema_name,scope_catalog,scope_name,scope_schema,scroll,search,second,section,security,select,self,sensitive,sequence,serializable,server_name,session,session_user,set,sets,similar,simple,size,smallint,some,source,space,specific,specific_name,specifictype,sql,sqlexception,sqlstate,sqlwarning,sqrt,start,state,statement,static,stddev_pop,stddev_samp,structure,style,subclass_origin,submultiset,substring,sum,symmetric,system,system_user,table,table_name,tablesample,temporary,then,ties,time,timestamp,timezone_hour,timezone_minute,to,top_level_count,trailing,transaction,transaction_active,transactions_committed,transactions_rolled_back,transform,transforms,translate,translation,treat,trigger,trigger_catalog,trigger_name,trigger_schema,trim,true,type,uescape,unbounded,uncommitted,under,union,unique,unknown,unnamed,unnest,update,upper,usage,user,user_defined_type_catalog,user_defined_type_code,user_defined_type_name,user_defined_type_schema,using,value,values,var_pop,var_samp,varchar,varying,view,when,whenever,where,width_bucket,window,with,within,without,work,write,year,zone}'::text[])`,
	"getCatalogs":    `SELECT datname AS "TABLE_CAT" FROM pg_catalog.pg_database WHERE datallowconn = true ORDER BY datname`,
	"getSchemas":     `SELECT nspname AS "TABLE_SCHEM", current_database() AS "TABLE_CATALOG" FROM pg_catalog.pg_namespace  WHERE nspname <> 'pg_toast' AND (nspname !~ '^pg_temp_'  OR nspname = (pg_catalog.current_schemas(true))[1]) AND (nspname !~ '^pg_toast_temp_'  OR nspname = replace((pg_catalog.current_schemas(true))[1], 'pg_temp_', 'pg_toast_temp_'))  ORDER BY "TABLE_SCHEM"`,
	"getTables":      `SELECT current_database() AS "TABLE_CAT", n.nspname AS "TABLE_SCHEM", c.relname AS "TABLE_NAME",  CASE n.nspname ~ '^pg_' OR n.nspname = 'information_schema'  WHEN true THEN CASE  WHEN n.nspname = 'pg_catalog' OR n.nspname = 'information_schema' THEN CASE c.relkind   WHEN 'r' THEN 'SYSTEM TABLE'   WHEN 'v' THEN 'SYSTEM VIEW'   WHEN 'i' THEN 'SYSTEM INDEX'   ELSE NULL   END  WHEN n.nspname = 'pg_toast' THEN CASE c.relkind   WHEN 'r' THEN 'SYSTEM TOAST TABLE'   WHEN 'i' THEN 'SYSTEM TOAST INDEX'   ELSE NULL   END  ELSE CASE c.relkind   WHEN 'r' THEN 'TEMPORARY TABLE'   WHEN 'p' THEN 'TEMPORARY TABLE'   WHEN 'i' THEN 'TEMPORARY INDEX'   WHEN 'S' THEN 'TEMPORARY SEQUENCE'   WHEN 'v' THEN 'TEMPORARY VIEW'   ELSE NULL   END  END  WHEN false THEN CASE c.relkind  WHEN 'r' THEN 'TABLE'  WHEN 'p' THEN 'PARTITIONED TABLE'  WHEN 'i' THEN 'INDEX'  WHEN 'P' then 'PARTITIONED INDEX'  WHEN 'S' THEN 'SEQUENCE'  WHEN 'v' THEN 'VIEW'  WHEN 'c' THEN 'TYPE'  WHEN 'f' THEN 'FOREIGN TABLE'  WHEN 'm' THEN 'MATERIALIZED VIEW'  ELSE NULL  END  ELSE NULL  END  AS "TABLE_TYPE", d.description AS "REMARKS",  '' as "TYPE_CAT", '' as "TYPE_SCHEM", '' as "TYPE_NAME", '' AS "SELF_REFERENCING_COL_NAME", '' AS "REF_GENERATION"  FROM pg_catalog.pg_namespace n, pg_catalog.pg_class c  LEFT JOIN pg_catalog.pg_description d ON (c.oid = d.objoid AND d.objsubid = 0  and d.classoid = 'pg_class'::regclass)  WHERE c.relnamespace = n.oid  AND n.nspname LIKE $1 AND c.relname LIKE $2 AND (false  OR ( c.relkind = 'r' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' )  OR ( c.relkind = 'v' AND n.nspname <> 'pg_catalog' AND n.nspname <> 'information_schema' ) )  ORDER BY "TABLE_TYPE","TABLE_SCHEM","TABLE_NAME" `,
	"getColumns":     `SELECT * FROM (SELECT current_database() AS current_database, n.nspname,c.relname,a.attname,a.atttypid,a.attnotnull  OR (t.typtype = 'd' AND t.typnotnull) AS attnotnull,a.atttypmod,a.attlen,t.typtypmod,row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum) AS attnum, nullif(a.attidentity, '') as attidentity,nullif(a.attgenerated, '') as attgenerated,pg_catalog.pg_get_expr(def.adbin, def.adrelid) AS adsrc,dsc.description,t.typbasetype,t.typtype  FROM pg_catalog.pg_namespace n  JOIN pg_catalog.pg_class c ON (c.relnamespace = n.oid)  JOIN pg_catalog.pg_attribute a ON (a.attrelid=c.oid)  JOIN pg_catalog.pg_type t ON (a.atttypid = t.oid)  LEFT JOIN pg_catalog.pg_attrdef def ON (a.attrelid=def.adrelid AND a.attnum = def.adnum)  LEFT JOIN pg_catalog.pg_description dsc ON (c.oid=dsc.objoid AND a.attnum = dsc.objsubid)  LEFT JOIN pg_catalog.pg_class dc ON (dc.oid=dsc.classoid AND dc.relname='pg_class')  LEFT JOIN pg_catalog.pg_namespace dn ON (dc.relnamespace=dn.oid AND dn.nspname='pg_catalog')  WHERE c.relkind in ('r','p','v','f','m') and a.attnum > 0 AND NOT a.attisdropped  AND n.nspname LIKE $1 AND c.relname LIKE $2) c WHERE true  AND attname LIKE $3 ORDER BY nspname,c.relname,attnum `,
}

// TestDBeaverAndPgjdbcCatalogQueries: DBeaver's PostgreSQL plugin connects, reads the types, lists
// the schemas, a schema's tables and a table's columns with the queries it sends, and pgjdbc's
// DatabaseMetaData answers getSQLKeywords (pg_get_keywords()), getCatalogs, getSchemas,
// getTables and getColumns. bob, whose grant shows one store, lists only that store's tables.
func TestDBeaverAndPgjdbcCatalogQueries(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	ctx := context.Background()
	list := func(who string, user access.Credentials) (schemas, tables, columns string, oidOf map[string]string) {
		t.Helper()
		c := pgxConnect(t, s.dsn(user, ""))
		query := func(origin, q string, args ...any) [][]any {
			t.Helper()
			rows, err := c.Query(ctx, q, args...)
			if err != nil {
				t.Fatalf("%s (%s): %v\n%s", origin, who, err, q)
			}
			var out [][]any
			for rows.Next() {
				vals, err := rows.Values()
				if err != nil {
					t.Fatalf("%s (%s): %v", origin, who, err)
				}
				out = append(out, vals)
			}
			if err := rows.Err(); err != nil {
				t.Fatalf("%s (%s): %v\n%s", origin, who, err, q)
			}
			return out
		}
		oidOf = map[string]string{}
		var answers []string
		for i, q := range dbeaverQueries {
			var args []any
			switch q.arg {
			case "":
			case "<SCHEMA OID>":
				args = append(args, oidOf["schema aws:cloudtrail"])
			case "<TABLE OID>":
				args = append(args, oidOf["table trail"])
			default:
				args = append(args, q.arg)
			}
			rows := query(fmt.Sprintf("DBeaver query %d", i), q.sql, args...)
			var lines []string
			for _, r := range rows {
				lines = append(lines, strings.TrimSpace(fmt.Sprintln(r...)))
			}
			answers = append(answers, strings.Join(lines, "\n"))
			switch i {
			case 8: // the schemas: oid, then pg_namespace's columns (nspname second)
				for _, r := range rows {
					oidOf["schema "+fmt.Sprint(r[2])] = fmt.Sprint(r[0])
				}
				schemas = answers[i]
			case 10: // the schema's tables: oid, then pg_class's columns (relname second)
				for _, r := range rows {
					oidOf["table "+fmt.Sprint(r[2])] = fmt.Sprint(r[0])
				}
				tables = answers[i]
			case 11:
				columns = answers[i]
			}
		}
		if answers[0] == "" || !strings.Contains(answers[1], "auditlake") || !strings.Contains(answers[2], "PostgreSQL 15.0") ||
			!strings.HasPrefix(answers[6], "public "+user.AccessKeyID) || !strings.Contains(answers[9], "int8") ||
			answers[12] != "" || answers[13] != "" || !strings.Contains(answers[14], "search_path") {
			t.Errorf("DBeaver's answers (%s):\n%s", who, strings.Join(answers, "\n--\n"))
		}
		return schemas, tables, columns, oidOf
	}
	schemas, tables, columns, oids := list("admin", f.admin)
	if !strings.Contains(schemas, "aws:cloudtrail") || oids["schema aws:cloudtrail"] == "" {
		t.Fatalf("DBeaver's schemas: %s", schemas)
	}
	if !strings.Contains(tables, " trail ") || !strings.Contains(tables, " auditlake-audit ") || !strings.Contains(tables, "event data store trail") {
		t.Fatalf("DBeaver's tables of aws:cloudtrail: %s", tables)
	}
	for _, w := range []string{" eventtime 1114 ", " eventname 25 ", " useridentity 114 "} {
		if !strings.Contains(columns, w) {
			t.Fatalf("DBeaver's columns of trail: no %q in\n%s", w, columns)
		}
	}
	_, bobTables, bobColumns, _ := list("bob", f.bob)
	if strings.Contains(bobTables, "auditlake-audit") || !strings.Contains(bobTables, " trail ") || !strings.Contains(bobColumns, " eventtime 1114 ") {
		t.Fatalf("bob's tables in DBeaver: %s", bobTables)
	}

	c := pgxConnect(t, s.dsn(f.admin, ""))
	one := func(name string, args ...any) [][]any {
		t.Helper()
		rows, err := c.Query(ctx, pgjdbcMetadataQueries[name], args...)
		if err != nil {
			t.Fatalf("pgjdbc %s: %v", name, err)
		}
		var out [][]any
		for rows.Next() {
			vals, _ := rows.Values()
			out = append(out, vals)
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("pgjdbc %s: %v", name, err)
		}
		return out
	}
	kw := one("getSQLKeywords")
	// pg_get_keywords() lists the parser's keywords; pgjdbc leaves out the SQL:2003 ones.
	if len(kw) != 1 || !strings.Contains(","+fmt.Sprint(kw[0][0])+",", ",analyze,") || strings.Contains(","+fmt.Sprint(kw[0][0])+",", ",select,") {
		t.Fatalf("getSQLKeywords: %v", kw)
	}
	if got := one("getCatalogs"); len(got) != 1 || got[0][0] != "auditlake" {
		t.Fatalf("getCatalogs: %v", got)
	}
	if got := fmt.Sprint(one("getSchemas")); !strings.Contains(got, "[aws:cloudtrail auditlake]") {
		t.Fatalf("getSchemas: %v", got)
	}
	if got := fmt.Sprint(one("getTables", "aws:cloudtrail", "%")); !strings.Contains(got, "aws:cloudtrail trail TABLE event data store trail") {
		t.Fatalf("getTables: %v", got)
	}
	cols := one("getColumns", "aws:cloudtrail", "trail", "%")
	var names []string
	for _, r := range cols {
		names = append(names, fmt.Sprint(r[3], ":", r[4]))
	}
	if got := strings.Join(names, " "); !strings.Contains(got, "eventtime:1114") || !strings.Contains(got, "useridentity:114") {
		t.Fatalf("getColumns: %v", got)
	}
}
