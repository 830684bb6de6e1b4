package iceberg

import (
	_ "github.com/apache/iceberg-go/catalog/glue" // catalog set glue: the AWS Glue Data Catalog
	_ "github.com/apache/iceberg-go/catalog/rest" // catalog set rest: an Iceberg REST catalog
)
