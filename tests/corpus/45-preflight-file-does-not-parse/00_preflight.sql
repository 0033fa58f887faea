SELECT 'corpus_sql_45' AS marker FROM FROM pg_class;
