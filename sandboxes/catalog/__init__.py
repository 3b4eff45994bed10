"""A catalog that keeps itself: discovery of forkable Deployments from the cluster
(`discovery`), the mesh each one is really in (`mesh_detection`), Backstage
`catalog-info.yaml` import (`backstage`), and the one write path for all of it
(`services`). Pure functions are kept apart from cluster and database I/O."""
